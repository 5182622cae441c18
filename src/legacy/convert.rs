//! From the old system's rows to chatseal's, without I/O. The old tables are read as text (every
//! column cast to TEXT, so SQLite's loose types and PostgreSQL's strict ones look the same):
//! hashes with or without `0x` in any case become 64 lowercase hex characters, channels lose
//! `#` and case, numbers may be written as `12` or `12.0`, and times may be Unix seconds, Unix
//! milliseconds (anything beyond 10^11, which as seconds would be past the year 5000) or a
//! calendar time ([`crate::timefmt`]). Signal types are mapped to chatseal's kinds; an unknown
//! type is counted by name, never silently dropped. Everything that cannot be read is counted.

use std::collections::BTreeMap;

use chatseal_schema::copy::{ImportParticipation, ImportSignal, ImportUser};
use chatseal_schema::SignalKind;

/// Times above this are milliseconds.
const MS_THRESHOLD: i64 = 100_000_000_000;

/// 64 lowercase hex characters of a hash written with or without `0x` (or PostgreSQL's `\x`),
/// in any case; None when it is not a 32-byte hash.
pub fn normalize_hash(raw: &str) -> Option<String> {
    let t = raw.trim();
    let t = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).or_else(|| t.strip_prefix("\\x")).unwrap_or(t);
    (t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())).then(|| t.to_ascii_lowercase())
}

/// A channel login: without `#`, lowercase, 1..=64 of `[a-z0-9_]`.
pub fn normalize_channel(raw: &str) -> Option<String> {
    let t = raw.trim();
    let t = t.strip_prefix('#').unwrap_or(t).to_ascii_lowercase();
    (!t.is_empty() && t.len() <= 64 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')).then_some(t)
}

/// A login: trimmed, lowercase, without a leading `@`; None when empty.
pub fn normalize_login(raw: &str) -> Option<String> {
    let t = raw.trim();
    let t = t.strip_prefix('@').unwrap_or(t).to_ascii_lowercase();
    (!t.is_empty()).then_some(t)
}

/// chatseal's signal kind of an old `signal_type`: a kind's own name, or one of the old
/// names for it (`chat`, `cheer`, `subgift`), in any case.
pub fn signal_kind(raw: &str) -> Option<SignalKind> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "chat" => Some(SignalKind::Message),
        "cheer" => Some(SignalKind::Bits),
        "subgift" => Some(SignalKind::Gift),
        name => SignalKind::from_name(name),
    }
}

/// An integer written as `12`, ` 12 ` or `12.0`.
pub fn parse_int(raw: &str) -> Option<i64> {
    let t = raw.trim();
    if let Ok(n) = t.parse::<i64>() {
        return Some(n);
    }
    let f = t.parse::<f64>().ok()?;
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e18).then_some(f as i64)
}

/// Unix seconds of a time written as seconds, milliseconds or a calendar time.
pub fn parse_time(raw: &str) -> Option<i64> {
    let t = raw.trim();
    let secs = |n: i64| if n.abs() > MS_THRESHOLD { n.div_euclid(1000) } else { n };
    if let Ok(n) = t.parse::<i64>() {
        return Some(secs(n));
    }
    if let Ok(f) = t.parse::<f64>() {
        return (f.is_finite() && f.abs() < 9.0e18).then(|| secs(f.floor() as i64));
    }
    crate::timefmt::parse_utc_ms(t).map(|ms| ms.div_euclid(1000))
}

/// What could not be imported as it was, counted over the whole import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notes {
    /// Old signal types with no chatseal kind, by name (lowercase), with their row counts.
    pub unknown_kinds: BTreeMap<String, u64>,
    /// Rows skipped because a user hash is not a 32-byte hash.
    pub invalid_hashes: u64,
    /// Rows skipped because a number or time could not be read.
    pub bad_values: u64,
    /// user_mapping rows without a username (no users row can be made).
    pub users_without_name: u64,
    /// (epoch, channel) groups skipped because their epoch or channel cannot be read.
    pub skipped_groups: Vec<String>,
}

/// An old signal row, read.
pub struct SignalIn<'a> {
    /// The user hash as stored (any case, with or without `0x`); an invalid one skips the row.
    pub user_hash: Option<&'a str>,
    /// The old `signal_type` (e.g. "cheer", "subgift"); mapped to a chatseal kind or counted as unknown.
    pub kind: Option<&'a str>,
    /// The amount as text; absent means one occurrence.
    pub value: Option<&'a str>,
    /// When the signal happened, as text; feeds the user's `last_seen`.
    pub timestamp: Option<&'a str>,
}

/// Signals of one (epoch, channel) summed per (user, kind), and each user's latest signal time.
pub fn fold_signals(
    epoch: i64,
    channel: &str,
    rows: &[SignalIn],
    notes: &mut Notes,
) -> (Vec<ImportSignal>, BTreeMap<String, i64>) {
    let mut sums: BTreeMap<(String, &'static str), i64> = BTreeMap::new();
    let mut latest: BTreeMap<String, i64> = BTreeMap::new();
    for r in rows {
        let Some(uh) = r.user_hash.and_then(normalize_hash) else {
            notes.invalid_hashes += 1;
            continue;
        };
        let raw_kind = r.kind.unwrap_or("");
        let Some(kind) = signal_kind(raw_kind) else {
            *notes.unknown_kinds.entry(raw_kind.trim().to_ascii_lowercase()).or_default() += 1;
            continue;
        };
        // A row without a value is one occurrence.
        let Some(value) = r.value.map_or(Some(1), parse_int) else {
            notes.bad_values += 1;
            continue;
        };
        if let Some(ts) = r.timestamp.and_then(parse_time) {
            let l = latest.entry(uh.clone()).or_insert(ts);
            *l = (*l).max(ts);
        }
        let s = sums.entry((uh, kind.name())).or_default();
        *s = s.saturating_add(value);
    }
    let rows = sums
        .into_iter()
        .map(|((user_hash, kind), value)| ImportSignal {
            epoch,
            channel: channel.to_owned(),
            user_hash,
            kind: kind.to_owned(),
            value,
        })
        .collect();
    (rows, latest)
}

/// Participation of one (epoch, channel): one row per user, first_seen the earliest given,
/// last_seen the later of first_seen and the user's latest signal.
pub fn fold_participation(
    epoch: i64,
    channel: &str,
    rows: &[(Option<&str>, Option<&str>)],
    latest_signal: &BTreeMap<String, i64>,
    notes: &mut Notes,
) -> Vec<ImportParticipation> {
    let mut first: BTreeMap<String, i64> = BTreeMap::new();
    for (uh, fs) in rows {
        let Some(uh) = uh.and_then(normalize_hash) else {
            notes.invalid_hashes += 1;
            continue;
        };
        let Some(fs) = fs.and_then(parse_time) else {
            notes.bad_values += 1;
            continue;
        };
        let f = first.entry(uh).or_insert(fs);
        *f = (*f).min(fs);
    }
    first
        .into_iter()
        .map(|(user_hash, first_seen)| {
            let last_seen = latest_signal.get(&user_hash).map_or(first_seen, |l| (*l).max(first_seen));
            ImportParticipation { epoch, channel: channel.to_owned(), user_hash, first_seen, last_seen }
        })
        .collect()
}

/// A users row of a user_mapping row (or of a sealed participant's username).
pub fn user_row(
    user_hash: Option<&str>,
    username: Option<&str>,
    first_seen: Option<&str>,
    notes: &mut Notes,
) -> Option<ImportUser> {
    let Some(uh) = user_hash.and_then(normalize_hash) else {
        notes.invalid_hashes += 1;
        return None;
    };
    let Some(login) = username.and_then(normalize_login) else {
        notes.users_without_name += 1;
        return None;
    };
    let first_seen = first_seen.and_then(parse_time).unwrap_or(0);
    let shown = username.map(str::trim).filter(|u| *u != login).map(str::to_owned);
    Some(ImportUser { user_hash: uh, login, user_id: None, display_name: shown, first_seen, last_seen: first_seen })
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "00211351fa907cf7cc37110fd2e2c61551049549dbe40818f00d305b53d199b3";

    #[test]
    fn hashes_channels_numbers_times() {
        assert_eq!(normalize_hash(&format!("0x{}", H.to_uppercase())).as_deref(), Some(H));
        assert_eq!(normalize_hash(&format!(" \\x{H} ")).as_deref(), Some(H));
        assert_eq!(normalize_hash(&H[2..]), None);
        assert_eq!(normalize_hash(&format!("{}zz", &H[2..])), None);
        assert_eq!(normalize_channel("#Lacy").as_deref(), Some("lacy"));
        assert_eq!(normalize_channel("#"), None);
        assert_eq!(normalize_channel("a b"), None);
        assert_eq!(parse_int(" 12 "), Some(12));
        assert_eq!(parse_int("12.0"), Some(12));
        assert_eq!(parse_int("12.5"), None);
        assert_eq!(parse_time("1717000000"), Some(1_717_000_000));
        assert_eq!(parse_time("1717000000123"), Some(1_717_000_000));
        assert_eq!(parse_time("1717000000.9"), Some(1_717_000_000));
        assert_eq!(parse_time("2024-05-29 12:00:00+00"), Some(1_716_984_000));
        assert_eq!(parse_time("soon"), None);
    }

    #[test]
    fn signal_types_map_and_unknown_ones_are_counted() {
        for (old, new) in [
            ("message", "message"),
            ("CHAT", "message"),
            ("bits", "bits"),
            ("cheer", "bits"),
            ("sub", "sub"),
            ("resub", "resub"),
            ("gift", "gift"),
            ("subgift", "gift"),
            ("raid", "raid"),
        ] {
            assert_eq!(signal_kind(old).map(SignalKind::name), Some(new), "{old}");
        }
        assert_eq!(signal_kind("follow"), None);
        let mut notes = Notes::default();
        let h2 = format!("0X{}", H.to_uppercase());
        let rows = [
            SignalIn { user_hash: Some(H), kind: Some("chat"), value: Some("1"), timestamp: Some("100") },
            SignalIn { user_hash: Some(&h2), kind: Some("message"), value: None, timestamp: Some("250") },
            SignalIn { user_hash: Some(H), kind: Some("cheer"), value: Some("100.0"), timestamp: None },
            SignalIn { user_hash: Some(H), kind: Some("Follow"), value: Some("1"), timestamp: Some("999") },
            SignalIn { user_hash: Some("nope"), kind: Some("sub"), value: Some("1"), timestamp: None },
            SignalIn { user_hash: Some(H), kind: Some("sub"), value: Some("x"), timestamp: None },
        ];
        let (sigs, latest) = fold_signals(7, "c", &rows, &mut notes);
        let got: Vec<(&str, i64)> = sigs.iter().map(|s| (s.kind.as_str(), s.value)).collect();
        assert_eq!(got, [("bits", 100), ("message", 2)]);
        assert_eq!(latest.get(H), Some(&250));
        assert_eq!(notes.unknown_kinds.get("follow"), Some(&1));
        assert_eq!((notes.invalid_hashes, notes.bad_values), (1, 1));

        let parts =
            fold_participation(7, "c", &[(Some(H), Some("200")), (Some(&h2), Some("150"))], &latest, &mut notes);
        assert_eq!(parts.len(), 1);
        assert_eq!((parts[0].first_seen, parts[0].last_seen), (150, 250));
    }

    #[test]
    fn users() {
        let mut notes = Notes::default();
        let u = user_row(Some(H), Some("DizzyBreezyy"), Some("5"), &mut notes).unwrap();
        assert_eq!(
            (u.login.as_str(), u.display_name.as_deref(), u.first_seen),
            ("dizzybreezyy", Some("DizzyBreezyy"), 5)
        );
        assert!(user_row(Some(H), Some("  "), None, &mut notes).is_none());
        assert_eq!(notes.users_without_name, 1);
    }
}

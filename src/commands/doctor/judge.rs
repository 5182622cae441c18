//! The judgments of `chatseal doctor`: from facts read off the store and `backup.dir` to ok /
//! warn / fail checks with the value and what to do. Pure: the facts come in as plain values
//! (see `probe` for the reads), so every rule is unit-tested here.

use std::collections::{BTreeMap, BTreeSet};

use chatseal_actors::clock::epoch::{closes_at_ms, epoch_of};
use chatseal_schema::inspect::EngineFacts;
use chatseal_schema::{SealedEpoch, StoreError};
use serde_json::json;

use super::report::Check;

/// At most this many items are listed in a line of text (JSON lists them all).
pub const LIST_MAX: usize = 12;
/// An epoch that closed less than this long ago may be being sealed right now: its missing
/// seal warns instead of failing.
pub const SETTLE_MS: i64 = 60_000;
/// A backup older than this many `backup.interval`s warns.
pub const STALE_INTERVALS: i64 = 2;

/// `epoch 7200 #alpha, epoch 10800 #beta, ... and 3 more`.
pub fn list<T>(items: &[T], show: impl Fn(&T) -> String) -> String {
    let mut s: Vec<String> = items.iter().take(LIST_MAX).map(show).collect();
    if items.len() > LIST_MAX {
        s.push(format!("and {} more", items.len() - LIST_MAX));
    }
    s.join(", ")
}

fn key(e: i64, c: &str) -> String {
    format!("epoch {e} #{c}")
}

/// The store could not be opened: `unreachable` (exit 69) unless SQLite found the file damaged.
pub fn open_failed(e: &StoreError) -> Check {
    let value = json!({ "error": e.to_string() });
    if let StoreError::Io { path, detail, .. } = e {
        return Check::fail(
            "store.open",
            format!("cannot be reached: {path}: {detail}"),
            "check store.url (and that the daemon has run once); then run doctor again",
            value,
        );
    }
    if e.is_corrupt() {
        Check::fail("store.open", format!("cannot be read: {e}"), "stop the daemon, move the store's files aside and `chatseal restore --from <newest verified backup>` (see `chatseal backup list`)", value)
    } else {
        Check::fail("store.open", format!("cannot be reached: {e}"), "check store.url and that the database (or the file and its directory) is there and reachable; then run doctor again", value)
    }
}

/// Opened read-only: the engine, its version, and the schema against this build's migrations.
pub fn opened(facts: &EngineFacts, schema: Option<&str>, latest: &str) -> Check {
    let value =
        json!({ "engine": facts.engine(), "schema_version": schema, "latest_migration": latest, "read_only": true });
    let head = format!("opened read-only (no migration), {}", facts.engine());
    if let Some(p) = facts.version_problems().into_iter().next() {
        return Check::fail(
            "store.open",
            format!("{head}: {p}"),
            "run a chatseal build with its bundled SQLite (the default build)",
            value,
        );
    }
    match schema {
        Some(v) if v == latest => Check::ok("store.open", format!("{head}, schema {v}"), value),
        Some(v) if v < latest => Check::warn(
            "store.open",
            format!("{head}, schema {v} is older than this build's {latest}"),
            "take a backup (`chatseal backup now`); the daemon migrates the store at its next start",
            value,
        ),
        Some(v) => Check::fail(
            "store.open",
            format!("{head}, schema {v} is newer than this build knows ({latest})"),
            "run the chatseal version that wrote this store",
            value,
        ),
        None => Check::fail(
            "store.open",
            format!("{head}, but no chatseal schema in it"),
            "check store.url: this is not a chatseal store (the daemon creates the schema at its first start)",
            value,
        ),
    }
}

/// `PRAGMA quick_check` (SQLite) problems.
pub fn quick_check(problems: &[String], sqlite: bool) -> Check {
    if !sqlite {
        return Check::ok("store.quick_check", "not applicable: PostgreSQL checks its own pages", json!(null));
    }
    if problems.is_empty() {
        return Check::ok("store.quick_check", "PRAGMA quick_check: ok", json!([]));
    }
    Check::fail(
        "store.quick_check",
        format!("PRAGMA quick_check found {} problem(s): {}", problems.len(), list(problems, |p| p.clone())),
        "stop the daemon; its start-up check quarantines the file and restores the newest verified backup (backup.on_corruption = \"restore\"), or `chatseal restore --from <id> --force` by hand",
        json!(problems),
    )
}

/// Every seal re-checked against its digest: `bad` are those that no longer match.
pub fn digests(total: i64, bad: &[(i64, String)]) -> Check {
    let value = json!({ "seals": total, "bad": bad.iter().map(|(e, c)| json!({"epoch": e, "channel": c})).collect::<Vec<_>>() });
    if bad.is_empty() {
        return Check::ok("store.digests", format!("all {total} seals match their digest"), value);
    }
    Check::fail(
        "store.digests",
        format!("{} of {total} seals do not match their digest: {}", bad.len(), list(bad, |(e, c)| key(*e, c))),
        "do not write to the store: stop the daemon and restore the newest verified backup (`chatseal backup verify`, then `chatseal restore --from <id> --force`); the daemon refuses to start on it otherwise",
        value,
    )
}

/// Durability settings, judged as the daemon's start-up checks judge them: on SQLite a problem
/// makes the daemon refuse to start (fail); on PostgreSQL it only logs a warning (warn).
pub fn durability(facts: &EngineFacts) -> Check {
    let problems = facts.durability_problems();
    let summary = facts.durability_summary();
    let value = json!({ "settings": summary, "problems": problems });
    match (problems.is_empty(), facts) {
        (true, _) => Check::ok("store.durability", summary, value),
        (false, EngineFacts::Sqlite { .. }) => Check::fail(
            "store.durability",
            format!("{summary}: {}", problems.join("; ")),
            "keep the store on a local disk that supports WAL; the daemon refuses to start until then",
            value,
        ),
        (false, EngineFacts::Postgres { .. }) => Check::warn(
            "store.durability",
            format!("{summary}: {}", problems.join("; ")),
            "set fsync, synchronous_commit and full_page_writes to on in postgresql.conf and reload",
            value,
        ),
    }
}

/// The channel-epochs that `spans` (channel, started_ms, until_ms) cover within epochs
/// `from..=to`: those the sealer seals, even without chatters.
pub fn covered_channel_epochs(spans: &[(String, i64, i64)], from: i64, to: i64, len: i64) -> BTreeSet<(i64, String)> {
    let mut out = BTreeSet::new();
    for (c, start, until) in spans {
        if until <= start {
            continue;
        }
        let first = epoch_of(start.div_euclid(1000), len).max(from);
        let last = epoch_of((until - 1).div_euclid(1000), len).min(to);
        let mut e = first;
        while e <= last {
            out.insert((e, c.clone()));
            e += len;
        }
    }
    out
}

/// Past channel-epochs with data (participants or coverage) and no seal. Those closed less
/// than [`SETTLE_MS`] ago may be being sealed right now (warn); older ones fail.
pub fn backlog(unsealed: &[(i64, String)], now_ms: i64, len: i64, grace_ms: i64) -> Check {
    let (fresh, stale): (Vec<_>, Vec<_>) =
        unsealed.iter().cloned().partition(|(e, _)| closes_at_ms(*e, len, grace_ms) > now_ms - SETTLE_MS);
    let items = |v: &[(i64, String)]| v.iter().map(|(e, c)| json!({"epoch": e, "channel": c})).collect::<Vec<_>>();
    let value = json!({ "unsealed": items(&stale), "closing": items(&fresh) });
    if !stale.is_empty() {
        let oldest = stale[0].0;
        return Check::fail(
            "sealing.backlog",
            format!("{} past channel-epoch(s) with data are not sealed: {}", stale.len(), list(&stale, |(e, c)| key(*e, c))),
            format!("start the daemon (it seals every past epoch at start, oldest first) or, with it stopped, `chatseal seal --epoch {oldest}` for each; a running daemon that leaves them logs why (\"sealing did not complete\")"),
            value,
        );
    }
    if !fresh.is_empty() {
        return Check::warn(
            "sealing.backlog",
            format!(
                "{} channel-epoch(s) closed less than {} s ago are not sealed yet: {}",
                fresh.len(),
                SETTLE_MS / 1000,
                list(&fresh, |(e, c)| key(*e, c))
            ),
            "a running daemon seals them now: run doctor again in a minute",
            value,
        );
    }
    Check::ok("sealing.backlog", "every past channel-epoch with data is sealed", value)
}

/// The sealer's cursor (`meta sealer.next_epoch`) against the newest closed epoch.
pub fn cursor(cursor: Option<i64>, closed: i64, len: i64, seals: i64) -> Check {
    let value = json!({ "next_epoch": cursor, "last_closed_epoch": closed });
    match cursor {
        None if seals == 0 => Check::ok("sealing.cursor", "not set: the sealer has not run on this store yet", value),
        None => Check::warn(
            "sealing.cursor",
            format!("not set, although {seals} seals exist (sealed by `chatseal seal` or copied in)"),
            "start the daemon: its sealer sets the cursor and seals from the newest closed epoch on",
            value,
        ),
        Some(c) if c == closed + len => Check::ok(
            "sealing.cursor",
            format!("next epoch {c}: caught up with the newest closed epoch {closed}"),
            value,
        ),
        Some(c) if c <= closed => {
            let behind = (closed - c) / len + 1;
            Check::warn("sealing.cursor", format!("next epoch {c}: {behind} closed epoch(s) not visited yet (newest closed {closed})"), "start the daemon if it is stopped: it visits them at start, oldest first (what they hold is in sealing.backlog)", value)
        }
        Some(c) => Check::warn(
            "sealing.cursor",
            format!(
                "next epoch {c} is past the next one to close ({}): the clock went back or epoch.length changed",
                closed + len
            ),
            "check the system clock and that epoch.length is what the store was sealed with",
            value,
        ),
    }
}

/// One channel-epoch of the coverage window not fully covered.
#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    pub epoch: i64,
    pub channel: String,
    /// Fraction of the epoch covered (0 where there is no seal).
    pub coverage: f64,
    /// False: no seal at all (the daemon was not there, or not joined, that whole epoch).
    pub sealed: bool,
}

/// Coverage gaps in epochs `from..=to`: seals with coverage below 1, and epochs with no seal
/// for a configured channel from its first seal on (before it, the channel had no history).
/// Channel-epochs in `unsealed` are left to the backlog check.
pub fn coverage_gaps(
    seals: &[SealedEpoch],
    channels: &[String],
    first: &BTreeMap<String, i64>,
    unsealed: &BTreeSet<(i64, String)>,
    (from, to, len): (i64, i64, i64),
) -> Vec<Gap> {
    let mut gaps: Vec<Gap> = seals
        .iter()
        .filter(|s| s.epoch >= from && s.epoch <= to && s.coverage < 1.0 - 1e-9)
        .map(|s| Gap { epoch: s.epoch, channel: s.channel.clone(), coverage: s.coverage, sealed: true })
        .collect();
    let sealed: BTreeSet<(i64, &str)> = seals.iter().map(|s| (s.epoch, s.channel.as_str())).collect();
    for c in channels {
        let Some(&start) = first.get(c) else { continue };
        let mut e = start.max(from);
        while e <= to {
            if !sealed.contains(&(e, c.as_str())) && !unsealed.contains(&(e, c.clone())) {
                gaps.push(Gap { epoch: e, channel: c.clone(), coverage: 0.0, sealed: false });
            }
            e += len;
        }
    }
    gaps.sort_by(|a, b| (a.epoch, &a.channel).cmp(&(b.epoch, &b.channel)));
    gaps
}

/// The coverage check over the last `n` closed epochs (`from..=to`). Gaps warn: the chat of
/// those hours is gone (Twitch never replays it), nothing can be repaired.
pub fn coverage(gaps: &[Gap], n: u32, from: i64, to: i64) -> Check {
    let value = json!({
        "epochs": n, "from": from, "to": to,
        "gaps": gaps.iter().map(|g| json!({"epoch": g.epoch, "channel": g.channel, "coverage": g.coverage, "sealed": g.sealed})).collect::<Vec<_>>(),
    });
    if gaps.is_empty() {
        return Check::ok(
            "coverage",
            format!("every channel-epoch of the last {n} closed epochs ({from}..={to}) is fully covered"),
            value,
        );
    }
    let show = |g: &Gap| {
        if g.sealed {
            format!("{} {:.2}", key(g.epoch, &g.channel), g.coverage)
        } else {
            format!("{} no seal", key(g.epoch, &g.channel))
        }
    };
    Check::warn(
        "coverage",
        format!("{} gap(s) in the last {n} closed epochs ({from}..={to}): {}", gaps.len(), list(gaps, show)),
        "the chat of those periods cannot be recovered (Twitch never replays it); if gaps recur, check the channel's state in /v1/status and chatseal_irc_reconnects_total",
        value,
    )
}

/// The newest backup as found in `backup.dir`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewestBackup {
    pub id: String,
    /// From the manifest; None when the manifest cannot be read.
    pub created_at: Option<i64>,
    pub size_bytes: u64,
    pub backend: Option<String>,
    /// What the quick verify found wrong (manifest, missing files, sizes).
    pub problems: Vec<String>,
}

/// The backup check: fail when there is none or the newest does not pass the quick verify;
/// warn when it is older than [`STALE_INTERVALS`] × `backup.interval` or of another engine.
pub fn backups(
    dir: &str,
    newest: Option<&NewestBackup>,
    incomplete_newer: usize,
    now_s: i64,
    interval_s: i64,
    backend: Option<&str>,
) -> Check {
    let Some(b) = newest else {
        return Check::fail("backups", format!("no backup in {dir}"), "run `chatseal backup now` (the daemon takes one every backup.interval); without one a damaged store cannot be restored", json!({"dir": dir, "newest": null}));
    };
    let age = b.created_at.map(|t| (now_s - t).max(0));
    let value = json!({"dir": dir, "newest": b.id, "created_at": b.created_at, "age_seconds": age, "size_bytes": b.size_bytes, "interval_seconds": interval_s, "problems": b.problems, "incomplete_newer": incomplete_newer});
    let age_text = age.map_or("age unknown".to_string(), |a| format!("{} old", crate::commands::backup::human_age(a)));
    if !b.problems.is_empty() {
        return Check::fail(
            "backups",
            format!("newest backup {} ({age_text}) does not verify: {}", b.id, b.problems.join("; ")),
            format!(
                "run `chatseal backup verify {}` for the full check, then `chatseal backup now` for a sound one",
                b.id
            ),
            value,
        );
    }
    let mut summary = format!(
        "newest backup {}, {age_text} (interval {}), manifest and file sizes match",
        b.id,
        crate::commands::backup::human_age(interval_s)
    );
    if incomplete_newer > 0 {
        summary.push_str(&format!("; {incomplete_newer} newer incomplete folder(s) (interrupted or being written)"));
    }
    if let (Some(mine), Some(theirs)) = (backend, b.backend.as_deref()) {
        if mine != theirs {
            return Check::warn(
                "backups",
                format!("{summary}; but it is of a {theirs} store and this store is {mine}"),
                "run `chatseal backup now` so a backup of this store exists",
                value,
            );
        }
    }
    match age {
        Some(a) if a > STALE_INTERVALS * interval_s => Check::warn("backups", format!("{summary}: older than {STALE_INTERVALS} intervals"), "check the daemon's log and chatseal_backup_failures_total for failed backups, or run `chatseal backup now`", value),
        _ => Check::ok("backups", summary, value),
    }
}

#[cfg(test)]
mod tests {
    use super::super::report::Status;
    use super::*;

    const H: i64 = 3600;

    fn seal(epoch: i64, channel: &str, coverage: f64) -> SealedEpoch {
        SealedEpoch {
            epoch,
            channel: channel.into(),
            root: None,
            claim_root: None,
            participants: 0,
            coverage,
            digest: String::new(),
            sealed_at: 0,
            format_version: 1,
            claim_cut: 0,
        }
    }

    #[test]
    fn covered_epochs_follow_the_sealer() {
        let spans = vec![
            ("a".to_string(), 0, 2 * H * 1000),
            ("b".to_string(), H * 1000 + 5, H * 1000 + 5),
            ("c".to_string(), 3 * H * 1000 - 1, 3 * H * 1000 + 1),
        ];
        let got: Vec<_> = covered_channel_epochs(&spans, 0, 10 * H, H).into_iter().collect();
        assert_eq!(got, [(0, "a".into()), (H, "a".into()), (2 * H, "c".into()), (3 * H, "c".into())]);
        let clipped: Vec<_> = covered_channel_epochs(&spans, H, H, H).into_iter().collect();
        assert_eq!(clipped, [(H, "a".into())]);
    }

    #[test]
    fn backlog_fails_for_old_epochs_and_warns_for_just_closed_ones() {
        let now = 10 * H * 1000;
        assert_eq!(backlog(&[], now, H, 0).status, Status::Ok);
        let old = backlog(&[(2 * H, "alpha".into())], now, H, 0);
        assert_eq!(old.status, Status::Fail);
        assert!(
            old.summary.contains("epoch 7200 #alpha") && old.action.as_deref().unwrap().contains("--epoch 7200"),
            "{old:?}"
        );
        // Epoch 9H closed at 10H exactly: within the settle time.
        let fresh = backlog(&[(9 * H, "alpha".into())], now, H, 0);
        assert_eq!(fresh.status, Status::Warn, "{fresh:?}");
    }

    #[test]
    fn cursor_states() {
        assert_eq!(cursor(None, 5 * H, H, 0).status, Status::Ok);
        assert_eq!(cursor(None, 5 * H, H, 3).status, Status::Warn);
        assert_eq!(cursor(Some(6 * H), 5 * H, H, 3).status, Status::Ok);
        let behind = cursor(Some(3 * H), 5 * H, H, 3);
        assert!(behind.status == Status::Warn && behind.summary.contains("3 closed epoch(s)"), "{behind:?}");
        assert_eq!(cursor(Some(9 * H), 5 * H, H, 3).status, Status::Warn);
    }

    #[test]
    fn gaps_are_partial_seals_and_missing_seals_after_a_channel_began() {
        let seals = vec![
            seal(2 * H, "alpha", 1.0),
            seal(3 * H, "alpha", 0.5),
            seal(3 * H, "beta", 1.0),
            seal(5 * H, "alpha", 1.0),
        ];
        let first: BTreeMap<String, i64> =
            [("alpha".to_string(), 2 * H), ("beta".to_string(), 3 * H)].into_iter().collect();
        let unsealed: BTreeSet<(i64, String)> = [(6 * H, "alpha".to_string())].into_iter().collect();
        let channels = vec!["alpha".to_string(), "beta".to_string(), "gamma".to_string()];
        let gaps = coverage_gaps(&seals, &channels, &first, &unsealed, (0, 6 * H, H));
        let got: Vec<_> = gaps.iter().map(|g| (g.epoch / H, g.channel.as_str(), g.sealed)).collect();
        assert_eq!(
            got,
            [(3, "alpha", true), (4, "alpha", false), (4, "beta", false), (5, "beta", false), (6, "beta", false)]
        );
        assert_eq!(gaps[0].coverage, 0.5);
        let c = coverage(&gaps, 7, 0, 6 * H);
        assert_eq!(c.status, Status::Warn);
        assert!(
            c.summary.contains("epoch 10800 #alpha 0.50") && c.summary.contains("epoch 14400 #alpha no seal"),
            "{}",
            c.summary
        );
        assert_eq!(coverage(&[], 7, 0, 6 * H).status, Status::Ok);
    }

    #[test]
    fn backup_rules() {
        let b = NewestBackup {
            id: "20240512T140502Z".into(),
            created_at: Some(1000),
            size_bytes: 10,
            backend: Some("sqlite".into()),
            problems: vec![],
        };
        assert_eq!(backups("d", None, 0, 0, H, Some("sqlite")).status, Status::Fail);
        assert_eq!(backups("d", Some(&b), 0, 1000 + 2 * H, H, Some("sqlite")).status, Status::Ok);
        let stale = backups("d", Some(&b), 0, 1001 + 2 * H, H, Some("sqlite"));
        assert!(stale.status == Status::Warn && stale.summary.contains("older than 2 intervals"), "{stale:?}");
        assert_eq!(backups("d", Some(&b), 0, 1000, H, Some("postgres")).status, Status::Warn);
        let bad = NewestBackup { problems: vec!["chatseal.db is missing".into()], ..b };
        let c = backups("d", Some(&bad), 0, 1000, H, Some("sqlite"));
        assert!(c.status == Status::Fail && c.action.unwrap().contains("backup verify 20240512T140502Z"));
    }

    #[test]
    fn digest_and_quick_check_findings_name_what_is_wrong() {
        assert_eq!(digests(4, &[]).status, Status::Ok);
        let d = digests(4, &[(7200, "alpha".into())]);
        assert!(d.status == Status::Fail && d.summary.contains("1 of 4") && d.summary.contains("epoch 7200 #alpha"));
        assert_eq!(quick_check(&[], true).status, Status::Ok);
        assert_eq!(quick_check(&["page 3 is never used".into()], true).status, Status::Fail);
        assert_eq!(quick_check(&[], false).status, Status::Ok);
        let many: Vec<i64> = (0..20).collect();
        assert!(list(&many, |i| i.to_string()).ends_with("and 8 more"));
    }
}

//! Calendar times written as text, to Unix time: `YYYY-MM-DD HH:MM:SS` (or with `T`), optional
//! fraction of a second, optional zone `Z`, `UTC`, `+HH`, `+HH:MM` or `+HHMM` (also `-`). A time
//! without zone is UTC. Used for the timestamps chat loggers put in front of each line (replay)
//! and for the old system's timestamps (legacy import); and back, Unix time to UTC text for the
//! viewer's page (`iso_utc`, `utc_span`). Pure; no panics on any input.

/// Days from 1970-01-01 to the proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// `n` ASCII digits at the start of `s` as a number, and the rest.
fn digits(s: &str, n: usize) -> Option<(i64, &str)> {
    let head = s.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, &s[n..]))
}

fn expect(s: &str, c: char) -> Option<&str> {
    s.strip_prefix(c)
}

/// The zone suffix as seconds east of UTC.
fn zone(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() || s == "Z" || s.eq_ignore_ascii_case("utc") {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, rest) = digits(rest, 2)?;
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    let (m, rest) = if rest.is_empty() { (0, rest) } else { digits(rest, 2)? };
    (rest.is_empty() && h < 24 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

/// Unix milliseconds of a calendar time (see the module doc), or None.
pub fn parse_utc_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let (y, r) = digits(s, 4)?;
    let (mo, r) = digits(expect(r, '-')?, 2)?;
    let (d, r) = digits(expect(r, '-')?, 2)?;
    let r = r.strip_prefix(' ').or_else(|| r.strip_prefix('T'))?;
    let (h, r) = digits(r, 2)?;
    let (mi, r) = digits(expect(r, ':')?, 2)?;
    let (se, r) = digits(expect(r, ':')?, 2)?;
    let (ms, r) = match r.strip_prefix('.') {
        Some(frac) => {
            let n = frac.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            // Milliseconds: the first three digits; finer digits are dropped.
            let (f, _) = digits(frac, n.min(3))?;
            (f * 10_i64.pow(3 - n.min(3) as u32), &frac[n..])
        }
        None => (0, r),
    };
    let off = zone(r)?;
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se.min(59) - off;
    Some(secs * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(parse_utc_ms("1970-01-01 00:00:00"), Some(0));
        assert_eq!(parse_utc_ms("2024-05-29 12:00:00"), Some(1_716_984_000_000));
        assert_eq!(parse_utc_ms("2024-05-29T12:00:00Z"), Some(1_716_984_000_000));
        assert_eq!(parse_utc_ms("2024-05-29 12:00:00.5"), Some(1_716_984_000_500));
        assert_eq!(parse_utc_ms("2024-05-29 12:00:00.123456"), Some(1_716_984_000_123));
        assert_eq!(parse_utc_ms("2024-05-29 14:00:00+02"), Some(1_716_984_000_000));
        assert_eq!(parse_utc_ms("2024-05-29 07:30:00-04:30"), Some(1_716_984_000_000));
        assert_eq!(parse_utc_ms("2024-02-29 00:00:00 UTC"), Some(1_709_164_800_000));
        assert_eq!(parse_utc_ms("1969-12-31 23:59:59"), Some(-1000));
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in [
            "",
            "2024-05-29",
            "2024-13-01 00:00:00",
            "2023-02-29 00:00:00",
            "2024-05-29 24:00:00",
            "2024-05-29 12:00",
            "2024-05-29 12:00:00.",
            "2024-05-29 12:00:00 CEST",
            "24-05-29 12:00:00",
            "2024-05-29 12:00:00+2",
            "２０２４-05-29 12:00:00",
        ] {
            assert_eq!(parse_utc_ms(bad), None, "{bad:?}");
        }
    }
}

/// Proleptic Gregorian (year, month, day) of a day count from 1970-01-01 (H. Hinnant's
/// `civil_from_days`, the inverse of `days_from_civil`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC), as HTML's `<time datetime>` takes it.
pub fn iso_utc(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

/// An hour-like span `[start, start + len)` for people: `2026-12-06 15:00–16:00 UTC` (the end's
/// date is shown when it differs, seconds only when they are not zero).
pub fn utc_span(start: i64, len: i64) -> String {
    let end = start.saturating_add(len.max(0));
    let iso = |t: i64| iso_utc(t);
    let clock = |t: &str| if t.ends_with(":00Z") { t[11..16].to_string() } else { t[11..19].to_string() };
    let (a, b) = (iso(start), iso(end));
    let tail = if a[..10] == b[..10] { clock(&b) } else { format!("{} {}", &b[..10], clock(&b)) };
    format!("{} {}–{} UTC", &a[..10], clock(&a), tail)
}

#[cfg(test)]
mod format_tests {
    use super::*;

    #[test]
    fn unix_seconds_to_text_and_back() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc(1_716_984_000), "2024-05-29T12:00:00Z");
        assert_eq!(iso_utc(1_709_164_800 + 86_399), "2024-02-29T23:59:59Z");
        assert_eq!(iso_utc(-1), "1969-12-31T23:59:59Z");
        for t in [0i64, 951_782_400, 1_709_164_800, 1_761_753_600, 4_102_444_800, 4_102_444_799] {
            let text = iso_utc(t);
            assert_eq!(parse_utc_ms(&text), Some(t * 1000), "{text}");
        }
    }

    #[test]
    fn spans() {
        assert_eq!(utc_span(1_761_753_600, 3600), "2025-10-29 16:00–17:00 UTC");
        assert_eq!(utc_span(1_761_753_600 + 7 * 3600, 3600), "2025-10-29 23:00–2025-10-30 00:00 UTC");
        assert_eq!(utc_span(1_761_753_600, 2), "2025-10-29 16:00–16:00:02 UTC");
    }
}

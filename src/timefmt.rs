//! Calendar times written as text, to Unix time: `YYYY-MM-DD HH:MM:SS` (or with `T`), optional
//! fraction of a second, optional zone `Z`, `UTC`, `+HH`, `+HH:MM` or `+HHMM` (also `-`). A time
//! without zone is UTC. Used for the timestamps chat loggers put in front of each line (replay)
//! and for the old system's timestamps (legacy import). Pure; no panics on any input.

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

//! Epoch arithmetic: UTC-aligned epochs of a fixed length in seconds, and when each closes.
//! Pure functions; the clock actor and the line parser both use them.

/// Start (Unix seconds) of the epoch that contains `ts` (Unix seconds), for epochs of `len` s.
/// Uses floor division, so negative timestamps also land in the right epoch.
pub fn epoch_of(ts: i64, len: i64) -> i64 {
    debug_assert!(len > 0);
    ts.div_euclid(len) * len
}

/// Unix ms at which `epoch` may be sealed: its end plus the grace period (saturating; see
/// [`checked_closes_at_ms`] to refuse an epoch whose end does not fit).
pub fn closes_at_ms(epoch: i64, len: i64, grace_ms: i64) -> i64 {
    epoch.saturating_add(len).saturating_mul(1000).saturating_add(grace_ms)
}

/// [`closes_at_ms`], or None when the epoch's end (in ms, plus grace) does not fit in an i64:
/// such an epoch can never close and is refused wherever one is asked for (a manual seal).
pub fn checked_closes_at_ms(epoch: i64, len: i64, grace_ms: i64) -> Option<i64> {
    epoch.checked_add(len)?.checked_mul(1000)?.checked_add(grace_ms)
}

/// The newest epoch that is closed (end + grace passed) at `now_ms`, if any.
pub fn last_closed_epoch(now_ms: i64, len: i64, grace_ms: i64) -> i64 {
    // epoch E is closed when now_ms >= (E + len) * 1000 + grace_ms
    let t = (now_ms - grace_ms).div_euclid(1000) - len;
    epoch_of(t, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_floor() {
        assert_eq!(epoch_of(1_761_753_600, 3600), 1_761_753_600);
        assert_eq!(epoch_of(1_761_757_199, 3600), 1_761_753_600);
        assert_eq!(epoch_of(1_761_757_200, 3600), 1_761_757_200);
        assert_eq!(epoch_of(-1, 3600), -3600);
    }

    #[test]
    fn closing() {
        let e = 1_761_753_600;
        assert_eq!(closes_at_ms(e, 3600, 120_000), (e + 3600) * 1000 + 120_000);
        let at = closes_at_ms(e, 3600, 120_000);
        assert_eq!(last_closed_epoch(at, 3600, 120_000), e);
        assert_eq!(last_closed_epoch(at - 1, 3600, 120_000), e - 3600);
        assert_eq!(checked_closes_at_ms(e, 3600, 120_000), Some(at));
    }

    #[test]
    fn an_epoch_whose_end_does_not_fit_is_none_never_wrapped() {
        let huge = 9_223_372_036_854_775_800;
        assert_eq!(checked_closes_at_ms(huge, 3600, 0), None);
        assert_eq!(checked_closes_at_ms(i64::MAX / 1000, 3600, 0), None);
        assert_eq!(checked_closes_at_ms(i64::MIN, 3600, 0), None);
        assert_eq!(closes_at_ms(huge, 3600, 0), i64::MAX, "saturates instead of wrapping to the past");
    }
}

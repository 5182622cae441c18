//! Coverage: the fraction of an epoch during which a channel was joined and confirmed, from the
//! recorded intervals. Pure. Overlapping intervals (a RECONNECT overlap, two connections) count once.

/// Fraction (0..=1) of `[from_ms, to_ms)` covered by the union of `spans` (start, end) in ms.
pub fn covered_fraction(spans: &[(i64, i64)], from_ms: i64, to_ms: i64) -> f64 {
    if to_ms <= from_ms {
        return 0.0;
    }
    let mut clipped: Vec<(i64, i64)> =
        spans.iter().map(|&(s, e)| (s.max(from_ms), e.min(to_ms))).filter(|(s, e)| e > s).collect();
    clipped.sort_unstable();
    let mut total: i64 = 0;
    let mut cur: Option<(i64, i64)> = None;
    for (s, e) in clipped {
        match cur {
            Some((cs, ce)) if s <= ce => cur = Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                cur = Some((s, e));
            }
            None => cur = Some((s, e)),
        }
    }
    if let Some((cs, ce)) = cur {
        total += ce - cs;
    }
    (total as f64 / (to_ms - from_ms) as f64).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_and_clipping() {
        assert_eq!(covered_fraction(&[], 0, 100), 0.0);
        assert_eq!(covered_fraction(&[(0, 100)], 0, 100), 1.0);
        assert_eq!(covered_fraction(&[(-50, 50)], 0, 100), 0.5);
        assert_eq!(covered_fraction(&[(10, 30), (20, 40), (90, 200)], 0, 100), 0.4);
        assert_eq!(covered_fraction(&[(10, 20), (10, 20)], 0, 100), 0.1);
        assert_eq!(covered_fraction(&[(200, 300)], 0, 100), 0.0);
    }
}

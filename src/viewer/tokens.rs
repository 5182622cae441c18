//! Amounts for people: u64 base units (a decimal string, as sealed) written as whole tokens with
//! every decimal place (`80000000000` with 9 decimals is `80.000000000`). Pure.

/// `amount` base units as tokens with `decimals` places, or None when `amount` is not a
/// decimal number of base units.
pub fn whole_tokens(amount: &str, decimals: u32) -> Option<String> {
    if amount.is_empty() || !amount.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = amount.trim_start_matches('0');
    let d = decimals as usize;
    if d == 0 {
        return Some(if digits.is_empty() { "0".into() } else { digits.into() });
    }
    let padded = format!("{digits:0>width$}", width = d + 1);
    let (whole, frac) = padded.split_at(padded.len() - d);
    Some(format!("{whole}.{frac}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_units_to_tokens() {
        assert_eq!(whole_tokens("80000000000", 9).as_deref(), Some("80.000000000"));
        assert_eq!(whole_tokens("80500000000", 9).as_deref(), Some("80.500000000"));
        assert_eq!(whole_tokens("1", 9).as_deref(), Some("0.000000001"));
        assert_eq!(whole_tokens("0", 9).as_deref(), Some("0.000000000"));
        assert_eq!(whole_tokens("000123", 2).as_deref(), Some("1.23"));
        assert_eq!(whole_tokens("18446744073709551615", 18).as_deref(), Some("18.446744073709551615"));
        assert_eq!(whole_tokens("8000", 0).as_deref(), Some("8000"));
        assert_eq!(whole_tokens("000", 0).as_deref(), Some("0"));
        for bad in ["", "-1", "1.5", "12a", " 1"] {
            assert_eq!(whole_tokens(bad, 9), None, "{bad:?}");
        }
    }
}

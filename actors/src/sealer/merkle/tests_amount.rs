//! Claim amount math: the spec's defaults are exact, custom weights round half up, and values
//! that do not fit are errors rather than wraps.

use super::*;
use chatseal_schema::SignalKind::{Bits, Gift, Message, Raid, Resub, Sub};
use chatseal_schema::Signals;

const DEFAULT_REWARD: u64 = 80;
const DEFAULT_DECIMALS: u32 = 9;

#[test]
fn default_weights_match_spec() {
    let w = CentiWeights::default();
    let per_signal = Signals::default().with(Sub, 1000).with(Resub, 1000).with(Gift, 500).with(Bits, 1).with(Raid, 10);
    assert_eq!(w, CentiWeights { presence: 100, per_signal });
    assert_eq!(w.per_signal[Message], 0, "messages are not weighted: presence counts them");
}

#[test]
fn presence_only_with_defaults() {
    let w = CentiWeights::default();
    let s = Signals::default();
    assert_eq!(centiweight(&w, &s), Ok(100));
    // weight 1 × 80 × 10^9
    assert_eq!(claim_amount(&w, &s, DEFAULT_REWARD, DEFAULT_DECIMALS), Ok(80_000_000_000));
}

#[test]
fn one_sub_and_250_bits_with_defaults_is_exact() {
    let w = CentiWeights::default();
    let s = Signals::default().with(Sub, 1).with(Bits, 250);
    // weight = 1 + 10 + 2.5 = 13.5 → 13.5 × 80 × 10^9
    assert_eq!(centiweight(&w, &s), Ok(1350));
    assert_eq!(claim_amount(&w, &s, DEFAULT_REWARD, DEFAULT_DECIMALS), Ok(1_080_000_000_000));
}

#[test]
fn every_signal_counts_with_defaults() {
    let w = CentiWeights::default();
    let s = Signals::default().with(Sub, 1).with(Resub, 2).with(Gift, 3).with(Bits, 7).with(Raid, 4).with(Message, 9);
    // 100 + 1000 + 2000 + 1500 + 7 + 40 (messages weigh nothing)
    assert_eq!(centiweight(&w, &s), Ok(4647));
    // 46.47 × 80 × 10^9 = 3_717_600_000_000
    assert_eq!(claim_amount(&w, &s, DEFAULT_REWARD, DEFAULT_DECIMALS), Ok(3_717_600_000_000));
}

#[test]
fn inexact_amounts_round_half_up() {
    let w = CentiWeights::default();
    let amount = |bits| {
        let s = Signals::default().with(Bits, bits);
        claim_amount(&w, &s, 1, 0)
    };
    assert_eq!(amount(49), Ok(1)); // 1.49 → 1
    assert_eq!(amount(50), Ok(2)); // 1.50 → 2
    assert_eq!(amount(51), Ok(2)); // 1.51 → 2
    assert_eq!(amount(100), Ok(2)); // 2.00 exact
}

#[test]
fn zero_reward_is_zero_even_with_huge_decimals() {
    let w = CentiWeights::default();
    assert_eq!(claim_amount(&w, &Signals::default(), 0, 60), Ok(0));
}

#[test]
fn amount_overflow_is_an_error_not_a_wrap() {
    let w = CentiWeights::default();
    let s = Signals::default();
    let err = claim_amount(&w, &s, u64::MAX, DEFAULT_DECIMALS).unwrap_err();
    assert_eq!(err, AmountError::AmountOverflow { centiweight: 100, reward_per_weight: u64::MAX, decimals: 9 });
    assert!(err.to_string().contains("lower reward_per_weight or decimals"), "{err}");
    // 10^39 exceeds u128 itself.
    assert!(matches!(claim_amount(&w, &s, 1, 39), Err(AmountError::AmountOverflow { decimals: 39, .. })));
    // Largest fitting value: u64::MAX exactly (presence only, 1 × u64::MAX × 10^0).
    assert_eq!(claim_amount(&w, &s, u64::MAX, 0), Ok(u64::MAX));
}

#[test]
fn weight_overflow_is_an_error() {
    let mut w = CentiWeights { presence: u64::MAX, ..CentiWeights::default() };
    w.per_signal = w.per_signal.with(Sub, u64::MAX).with(Resub, u64::MAX);
    let s = Signals::default().with(Sub, u64::MAX).with(Resub, u64::MAX);
    let err = centiweight(&w, &s).unwrap_err();
    assert!(matches!(err, AmountError::WeightOverflow { signal: "resub", .. }), "{err}");
}

#[test]
fn weights_deserialize_with_defaults_for_missing_fields() {
    let w: CentiWeights = serde_json::from_str(r#"{"bits": 2}"#).expect("valid json");
    let d = CentiWeights::default();
    assert_eq!(w, CentiWeights { per_signal: d.per_signal.with(Bits, 2), ..d });
    let w: CentiWeights = serde_json::from_str(r#"{"presence": 7, "raid": 0}"#).expect("valid json");
    assert_eq!(w, CentiWeights { presence: 7, per_signal: d.per_signal.with(Raid, 0) });
}

#[test]
fn weights_are_a_table_of_presence_and_the_weighted_kinds() {
    let json = serde_json::to_value(CentiWeights::default()).expect("serialises");
    let expected = serde_json::json!({"presence": 100, "bits": 1, "sub": 1000, "resub": 1000, "gift": 500, "raid": 10});
    assert_eq!(json, expected);
    let back: CentiWeights = serde_json::from_value(json).expect("round trip");
    assert_eq!(back, CentiWeights::default());
    // Unweighted kinds and unknown names are not keys.
    for bad in [r#"{"message": 1}"#, r#"{"follow": 1}"#] {
        let err = serde_json::from_str::<CentiWeights>(bad).unwrap_err().to_string();
        assert!(err.contains("expected one of presence, bits, sub, resub, gift, raid"), "{bad}: {err}");
    }
    assert!(serde_json::from_str::<CentiWeights>(r#"{"bits": -1}"#).is_err());
}

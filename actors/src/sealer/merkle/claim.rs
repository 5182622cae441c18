//! Claim amounts in integer math. A participant's weight is kept in hundredths ("centiweight")
//! so the default coefficients (1 presence, 10 per sub/resub, 5 per gift, 0.01 per bit, 0.1 per
//! raid) are exact integers; `amount = centiweight × reward_per_weight × 10^decimals / 100`,
//! rounded half up when a configuration makes it inexact, and an error (never a wrap) when it
//! does not fit a u64.

use serde::{Deserialize, Serialize};

/// Claim weights in hundredths ("centi"): defaults presence 100, sub 1000, resub 1000,
/// gift 500, bits 1, raid 10. Missing fields in a configuration take their default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CentiWeights {
    pub presence: u64,
    pub sub: u64,
    pub resub: u64,
    pub gift: u64,
    pub bits: u64,
    pub raid: u64,
}

impl Default for CentiWeights {
    fn default() -> Self {
        CentiWeights { presence: 100, sub: 1000, resub: 1000, gift: 500, bits: 1, raid: 10 }
    }
}

/// The signal sums of one participant in one channel-epoch (presence is implied: 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignalSums {
    pub sub: u64,
    pub resub: u64,
    pub gift: u64,
    pub bits: u64,
    pub raid: u64,
}

/// Why a claim amount could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// The weighted sum of signals exceeds u128 (absurd weights or sums).
    #[error(
        "claim weight overflows u128 at signal `{signal}` (sum {sum} × centi-weight {weight}); \
         lower the `{signal}` weight in the configuration"
    )]
    WeightOverflow { signal: &'static str, sum: u64, weight: u64 },
    /// The amount in base units does not fit a u64.
    #[error(
        "claim amount does not fit u64: centiweight {centiweight} × reward_per_weight \
         {reward_per_weight} × 10^{decimals} / 100; lower reward_per_weight or decimals"
    )]
    AmountOverflow { centiweight: u128, reward_per_weight: u64, decimals: u32 },
}

/// Weight in hundredths: `presence + Σ weight_signal × sum_signal`, checked in u128.
pub fn centiweight(w: &CentiWeights, s: &SignalSums) -> Result<u128, AmountError> {
    let terms = [
        ("presence", 1, w.presence),
        ("sub", s.sub, w.sub),
        ("resub", s.resub, w.resub),
        ("gift", s.gift, w.gift),
        ("bits", s.bits, w.bits),
        ("raid", s.raid, w.raid),
    ];
    terms.iter().try_fold(0u128, |acc, &(signal, sum, weight)| {
        // u64 × u64 always fits u128; only the running sum can overflow.
        acc.checked_add(u128::from(sum) * u128::from(weight)).ok_or(AmountError::WeightOverflow { signal, sum, weight })
    })
}

/// `centiweight × reward_per_weight × 10^decimals / 100` in base units, u128 integer math,
/// rounded half up when inexact; `AmountOverflow` when the result does not fit a u64.
pub fn claim_amount(
    w: &CentiWeights,
    s: &SignalSums,
    reward_per_weight: u64,
    decimals: u32,
) -> Result<u64, AmountError> {
    let cw = centiweight(w, s)?;
    let overflow = AmountError::AmountOverflow { centiweight: cw, reward_per_weight, decimals };
    let base = cw.checked_mul(u128::from(reward_per_weight)).ok_or_else(|| overflow.clone())?;
    if base == 0 {
        return Ok(0);
    }
    // base ≥ 1: if 10^decimals or the product leaves u128, the amount cannot fit a u64 either.
    let numerator =
        10u128.checked_pow(decimals).and_then(|scale| base.checked_mul(scale)).ok_or_else(|| overflow.clone())?;
    let quotient = numerator / 100 + u128::from(numerator % 100 >= 50);
    u64::try_from(quotient).map_err(|_| overflow)
}

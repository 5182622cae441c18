//! Claim amounts in integer math. A participant's weight is kept in hundredths ("centiweight")
//! so the default coefficients (1 presence, 10 per sub/resub, 5 per gift, 0.01 per bit, 0.1 per
//! raid) are exact integers; `amount = centiweight × reward_per_weight × 10^decimals / 100`,
//! rounded half up when a configuration makes it inexact, and an error (never a wrap) when it
//! does not fit a u64.

use std::fmt;

use chatseal_schema::{SignalKind, Signals};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// The default weight of taking part at all (once per epoch), in centiweights.
pub const DEFAULT_PRESENCE_CENTIWEIGHT: u64 = 100;

/// The default weight of one unit of `kind`, in centiweights, or None for a kind that is not
/// weighted (a message: taking part already counts as presence), which then has no key in
/// `[sealing.centiweights]` and weighs 0.
pub const fn default_centiweight(kind: SignalKind) -> Option<u64> {
    match kind {
        SignalKind::Message => None,
        SignalKind::Bits => Some(1),
        SignalKind::Sub => Some(1000),
        SignalKind::Resub => Some(1000),
        SignalKind::Gift => Some(500),
        SignalKind::Raid => Some(10),
    }
}

/// The name of the presence weight's key, next to the weighted kinds' names.
const PRESENCE: &str = "presence";

/// Claim weights in hundredths ("centi"): `presence` once per participant, plus one weight per
/// unit of each signal. Defaults: presence 100, sub 1000, resub 1000, gift 500, bits 1,
/// raid 10 (see [`default_centiweight`]). As a table (the `[sealing.centiweights]` section),
/// the keys are `presence` and the names of the weighted kinds; a missing key takes its
/// default, an unknown one is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CentiWeights {
    /// Counted once per participant (`presence`).
    pub presence: u64,
    /// Per unit of each kind; 0 for the kinds that are not weighted.
    pub per_signal: Signals<u64>,
}

impl Default for CentiWeights {
    fn default() -> Self {
        CentiWeights {
            presence: DEFAULT_PRESENCE_CENTIWEIGHT,
            per_signal: Signals::from_fn(|k| default_centiweight(k).unwrap_or(0)),
        }
    }
}

/// The kinds that carry a weight (and a key), in kind order.
fn weighted_kinds() -> impl Iterator<Item = SignalKind> {
    SignalKind::ALL.into_iter().filter(|k| default_centiweight(*k).is_some())
}

impl Serialize for CentiWeights {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1 + weighted_kinds().count()))?;
        map.serialize_entry(PRESENCE, &self.presence)?;
        for kind in weighted_kinds() {
            map.serialize_entry(kind.name(), &self.per_signal[kind])?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for CentiWeights {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(WeightsVisitor)
    }
}

struct WeightsVisitor;

impl<'de> Visitor<'de> for WeightsVisitor {
    type Value = CentiWeights;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table of centiweights keyed by `presence` and the weighted signal kinds")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CentiWeights, A::Error> {
        let mut w = CentiWeights::default();
        while let Some(key) = map.next_key::<String>()? {
            if key == PRESENCE {
                w.presence = map.next_value()?;
                continue;
            }
            match SignalKind::from_name(&key).filter(|k| default_centiweight(*k).is_some()) {
                Some(kind) => w.per_signal[kind] = map.next_value()?,
                None => {
                    let keys: Vec<&str> = std::iter::once(PRESENCE).chain(weighted_kinds().map(|k| k.name())).collect();
                    return Err(de::Error::custom(format_args!(
                        "unknown centiweight `{key}`, expected one of {}",
                        keys.join(", ")
                    )));
                }
            }
        }
        Ok(w)
    }
}

/// Why a claim amount could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// The weighted sum of signals exceeds u128 (absurd weights or sums).
    #[error(
        "claim weight overflows u128 at signal `{signal}` (sum {sum} × centi-weight {weight}); \
         lower the `{signal}` weight in the configuration"
    )]
    WeightOverflow {
        /// The weight's key: `presence` or a signal kind's name.
        signal: &'static str,
        /// The participant's sum of that signal (1 for presence).
        sum: u64,
        /// Its centiweight.
        weight: u64,
    },
    /// The amount in base units does not fit a u64.
    #[error(
        "claim amount does not fit u64: centiweight {centiweight} × reward_per_weight \
         {reward_per_weight} × 10^{decimals} / 100; lower reward_per_weight or decimals"
    )]
    AmountOverflow {
        /// The participant's weight, in hundredths.
        centiweight: u128,
        /// `sealing.reward_per_weight`.
        reward_per_weight: u64,
        /// `sealing.decimals`.
        decimals: u32,
    },
}

/// Weight in hundredths: `presence + Σ weight_kind × sum_kind`, checked in u128.
pub fn centiweight(w: &CentiWeights, sums: &Signals<u64>) -> Result<u128, AmountError> {
    let presence = (PRESENCE, 1, w.presence);
    let terms = SignalKind::ALL.into_iter().map(|k| (k.name(), sums[k], w.per_signal[k]));
    std::iter::once(presence).chain(terms).try_fold(0u128, |acc, (signal, sum, weight)| {
        // u64 × u64 always fits u128; only the running sum can overflow.
        acc.checked_add(u128::from(sum) * u128::from(weight)).ok_or(AmountError::WeightOverflow { signal, sum, weight })
    })
}

/// `centiweight × reward_per_weight × 10^decimals / 100` in base units, u128 integer math,
/// rounded half up when inexact; `AmountOverflow` when the result does not fit a u64.
pub fn claim_amount(
    w: &CentiWeights,
    s: &Signals<u64>,
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

//! The signal kinds and the one vector of per-kind values. A participant accumulates signals
//! (messages, bits, subs, ...) per (epoch, channel); every place that holds them (a parsed
//! line's counts, a flush delta, a participant read for sealing, the claim weights) holds a
//! [`Signals`], indexed by [`SignalKind`]. [`SignalKind::name`] is the kind's stable name: the
//! `kind` column of the `signals` table and, for weighted kinds, the key under
//! `[sealing.centiweights]`; it never changes once released. [`SignalKind::code`] is the kind's
//! stable small integer: the `kind` column of the compact `signals` table (migration
//! m20261208_000010, `crate::layout`), one byte on SQLite instead of the name's text; it never
//! changes either, and a code is never reused.
//!
//! Adding a kind: a line in `signal_kinds!` below (variant and name), its weight default in
//! `actors/src/sealer/merkle/claim.rs` (`default_centiweight`), the parse rule that produces it
//! (`actors/src/channel/parse/`), and the docs (docs/configuration.md, docs/input-rules.md). The
//! `signals` table stores one row per (participant, kind) with the kind as its code, so a new
//! kind needs no new column (a new line takes the next unused code); a migration is needed only
//! to rewrite data.

use std::fmt;
use std::ops::{Index, IndexMut};

/// Declares [`SignalKind`] with its variants' stable names, and [`SignalKind::ALL`] in the
/// same order, from one list: a kind is one line of it.
macro_rules! signal_kinds {
    ($($(#[$doc:meta])* $variant:ident => $name:literal = $code:literal,)+) => {
        /// One kind of signal a participant can give, in its stored order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum SignalKind {
            $($(#[$doc])* $variant,)+
        }

        impl SignalKind {
            /// Every kind, in order (the order of [`Signals`]' slots and of its iteration).
            pub const ALL: [SignalKind; [$($name),+].len()] = [$(SignalKind::$variant),+];

            /// The stable name: the `kind` column of the `signals` table and the weight's
            /// config key.
            pub const fn name(self) -> &'static str {
                match self {
                    $(SignalKind::$variant => $name,)+
                }
            }

            /// The stable code: the `kind` column of the compact `signals` table.
            pub const fn code(self) -> i32 {
                match self {
                    $(SignalKind::$variant => $code,)+
                }
            }
        }
    };
}

signal_kinds! {
    /// A chat message (PRIVMSG).
    Message => "message" = 1,
    /// Bits cheered (the `bits` tag of a PRIVMSG), in bits.
    Bits => "bits" = 2,
    /// A subscription (USERNOTICE `sub`).
    Sub => "sub" = 3,
    /// A resubscription (USERNOTICE `resub`).
    Resub => "resub" = 4,
    /// A gifted subscription, counted for the gifter (USERNOTICE `subgift`).
    Gift => "gift" = 5,
    /// A raid led into the channel, counted for the raider (USERNOTICE `raid`).
    Raid => "raid" = 6,
}

impl SignalKind {
    /// How many kinds there are.
    pub const COUNT: usize = Self::ALL.len();

    /// The kind of a stable name (exact, lowercase), None for any other text.
    pub fn from_name(name: &str) -> Option<SignalKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The kind of a stable code, None for any other number.
    pub fn from_code(code: i32) -> Option<SignalKind> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The slot of this kind in a [`Signals`].
    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One value per [`SignalKind`]: a line's counts, a participant's sums (`Signals<i64>`), the
/// claim weights (`Signals<u64>`). Indexed by kind; iterates in [`SignalKind::ALL`] order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Signals<T>([T; SignalKind::COUNT]);

impl<T> Signals<T> {
    /// The vector holding `f(kind)` for every kind.
    pub fn from_fn(mut f: impl FnMut(SignalKind) -> T) -> Self {
        Signals(std::array::from_fn(|i| f(SignalKind::ALL[i])))
    }

    /// This vector with `kind` set to `value` (for building one in an expression).
    #[must_use]
    pub fn with(mut self, kind: SignalKind, value: T) -> Self {
        self[kind] = value;
        self
    }

    /// Every (kind, value), in [`SignalKind::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (SignalKind, &T)> {
        SignalKind::ALL.into_iter().zip(self.0.iter())
    }

    /// The vector of `f(kind, value)`.
    pub fn map<U>(self, mut f: impl FnMut(SignalKind, T) -> U) -> Signals<U> {
        let mut slot = 0;
        Signals(self.0.map(|v| {
            let kind = SignalKind::ALL[slot];
            slot += 1;
            f(kind, v)
        }))
    }
}

impl Signals<i64> {
    /// Adds `other` into `self`, kind by kind, saturating (hostile `bits` tags must not
    /// overflow).
    pub fn add(&mut self, other: &Signals<i64>) {
        for (s, o) in self.0.iter_mut().zip(other.0) {
            *s = s.saturating_add(o);
        }
    }

    /// The non-zero (kind, value)s, in kind order.
    pub fn nonzero(&self) -> impl Iterator<Item = (SignalKind, i64)> + '_ {
        self.iter().filter(|(_, v)| **v != 0).map(|(k, v)| (k, *v))
    }
}

impl<T> Index<SignalKind> for Signals<T> {
    type Output = T;

    fn index(&self, kind: SignalKind) -> &T {
        &self.0[kind.index()]
    }
}

impl<T> IndexMut<SignalKind> for Signals<T> {
    fn index_mut(&mut self, kind: SignalKind) -> &mut T {
        &mut self.0[kind.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::SignalKind::*;
    use super::*;

    #[test]
    fn names_are_the_stored_ones_and_round_trip() {
        let names: Vec<&str> = SignalKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names, ["message", "bits", "sub", "resub", "gift", "raid"]);
        for k in SignalKind::ALL {
            assert_eq!(SignalKind::from_name(k.name()), Some(k));
            assert_eq!(k.to_string(), k.name());
        }
        assert_eq!(SignalKind::from_name("follow"), None);
        assert_eq!(SignalKind::from_name("Bits"), None, "stored names are exact");
    }

    #[test]
    fn codes_are_the_stored_ones_unique_and_round_trip() {
        // Stored in every compact `signals` row: these numbers never change.
        let codes: Vec<(&str, i32)> = SignalKind::ALL.iter().map(|k| (k.name(), k.code())).collect();
        assert_eq!(codes, [("message", 1), ("bits", 2), ("sub", 3), ("resub", 4), ("gift", 5), ("raid", 6)]);
        for k in SignalKind::ALL {
            assert_eq!(SignalKind::from_code(k.code()), Some(k));
        }
        assert_eq!(SignalKind::from_code(0), None);
        assert_eq!(SignalKind::from_code(7), None);
    }

    #[test]
    fn every_kind_has_its_own_slot_in_order() {
        for (i, k) in SignalKind::ALL.into_iter().enumerate() {
            assert_eq!(k.index(), i, "{k}");
        }
        let s = Signals::from_fn(|k| k.index() as i64 * 10);
        let seen: Vec<(SignalKind, i64)> = s.iter().map(|(k, v)| (k, *v)).collect();
        assert_eq!(seen, [(Message, 0), (Bits, 10), (Sub, 20), (Resub, 30), (Gift, 40), (Raid, 50)]);
        assert_eq!(s.map(|k, v| format!("{k}={v}"))[Gift], "gift=40");
    }

    #[test]
    fn add_saturates_and_nonzero_skips_zeros() {
        let mut a = Signals::default().with(Message, 1).with(Bits, i64::MAX);
        a.add(&Signals::default().with(Message, 2).with(Bits, 5).with(Raid, 1));
        assert_eq!(a, Signals::default().with(Message, 3).with(Bits, i64::MAX).with(Raid, 1));
        assert_eq!(a.nonzero().collect::<Vec<_>>(), [(Message, 3), (Bits, i64::MAX), (Raid, 1)]);
        assert_eq!(Signals::<i64>::default().nonzero().count(), 0);
    }
}

//! Keeping secrets out of sight: the [`Secret`] newtype (its `Debug` and `Display` print
//! `<redacted>`, serde sees the plain string) and [`redact_url`] for passwords inside store
//! URLs. The settings tree uses them (`model.rs`, `effective.rs`); this module uses none of it.

use serde::{Deserialize, Serialize};

/// What a set secret is shown as.
pub const REDACTED: &str = "<redacted>";

/// A secret string (token, password). Serialises as the plain string so it can be loaded;
/// `Debug`/`Display` show `<redacted>` when set and `""` when empty. Read it with [`Secret::expose`].
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself: pass it on, never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when no secret is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Compare with a candidate (e.g. a bearer token) in time independent of where they differ.
    /// An empty secret matches nothing.
    pub fn matches(&self, candidate: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), candidate.as_bytes());
        if a.is_empty() || a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    fn shown(&self) -> &'static str {
        if self.is_empty() {
            ""
        } else {
            REDACTED
        }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.shown())
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.shown())
    }
}

/// A URL with its password replaced by `<redacted>`, both in the user info
/// (`postgres://user:secret@host/db` -> `postgres://user:<redacted>@host/db`) and in
/// password query parameters (`?password=secret`). Anything else is returned unchanged. The
/// rule itself lives in the store crate (`chatseal_schema::redact`), shared with its errors.
pub fn redact_url(url: &str) -> String {
    chatseal_schema::redact::redact_url_with(url, REDACTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_are_redacted() {
        assert_eq!(redact_url("postgres://user:secret@host/db"), "postgres://user:<redacted>@host/db");
        assert_eq!(
            redact_url("postgresql://u:p%40ss@db.example:5432/x?sslmode=require&password=hunter2#f"),
            "postgresql://u:<redacted>@db.example:5432/x?sslmode=require&password=<redacted>#f"
        );
        assert_eq!(redact_url("postgres://user@host/db"), "postgres://user@host/db");
        assert_eq!(redact_url("sqlite://data/chatseal.db"), "sqlite://data/chatseal.db");
        assert_eq!(redact_url("postgres://:pw@host"), "postgres://:<redacted>@host");
    }

    #[test]
    fn secret_display_and_debug_hide_the_value() {
        let s = Secret::new("sekrit-token-123");
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{s:?}"), "\"<redacted>\"");
        assert_eq!(format!("{:?}", Secret::default()), "\"\"");
        assert_eq!(s.expose(), "sekrit-token-123");
    }

    #[test]
    fn secret_matches_only_the_exact_value() {
        let s = Secret::new("abc");
        assert!(s.matches("abc"));
        assert!(!s.matches("abd"));
        assert!(!s.matches("ab"));
        assert!(!Secret::default().matches(""));
    }
}

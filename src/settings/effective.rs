//! The effective configuration as `check-config` prints it: the whole settings tree as TOML,
//! every secret shown as `"<redacted>"` when set (`""` when empty) and the store URL's
//! password redacted, so it is safe to print and to log.

use super::model::Settings;
use super::redact::{redact_url, Secret};

impl Settings {
    /// The effective configuration as TOML, secrets shown as `"<redacted>"` when set (`""` when
    /// empty) and the store URL's password redacted. Safe to print and to log.
    pub fn redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.twitch.token = Secret::new(self.twitch.token.to_string());
        shown.http.admin_token = Secret::new(self.http.admin_token.to_string());
        shown.store.url = redact_url(&self.store.url);
        match toml::to_string(&shown) {
            Ok(text) => text,
            // Not reachable with the types above; still say so instead of printing nothing.
            Err(e) => format!("# the effective configuration cannot be rendered as TOML: {e}\n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_toml_hides_every_secret_and_debug_too() {
        let mut s = Settings::default();
        s.twitch.login = "mybot".into();
        s.twitch.token = Secret::new("sekrit-token-123");
        s.http.admin_token = Secret::new("admin-sekrit-456");
        s.store.url = "postgres://chatseal:pg-sekrit-789@db/chatseal".into();
        let text = s.redacted_toml();
        let debug = format!("{s:?}");
        for out in [&text, &debug] {
            for secret in ["sekrit-token-123", "admin-sekrit-456", "pg-sekrit-789"] {
                assert!(!out.contains(secret), "{secret} leaked in:\n{out}");
            }
        }
        assert!(text.contains("token = \"<redacted>\""), "{text}");
        assert!(text.contains("admin_token = \"<redacted>\""), "{text}");
        assert!(text.contains("postgres://chatseal:<redacted>@db/chatseal"), "{text}");
        assert!(Settings::default().redacted_toml().contains("admin_token = \"\""));
    }
}

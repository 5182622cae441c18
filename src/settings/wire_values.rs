//! The configuration values that reach the IRC wire (`twitch.server` in the connection,
//! `twitch.login` in NICK, `twitch.token` in PASS, each of `twitch.channels` in JOIN) and the
//! other secret (`http.admin_token`) may not hold CR, LF or NUL: such a value could end an IRC
//! line early and inject a command (`abc\r\nJOIN #evil`). They are checked as given, before any
//! trimming, so a value is refused for what the operator wrote. Secrets are named by key and
//! position only, never shown.

use chatseal_actors::channel::wire::forbidden_byte;

use super::model::Settings;

/// One problem per value holding CR, LF or NUL; empty when none does.
pub(super) fn wire_problems(s: &Settings) -> Vec<String> {
    let t = &s.twitch;
    let mut problems = Vec::new();
    let mut plain = |key: String, value: &str| {
        if let Some(what) = forbidden_byte(value) {
            problems.push(format!(
                "{key} = {} holds {what}: CR, LF and NUL would end an IRC line early and \
                 inject a command; remove it",
                crate::quote::clipped(value)
            ));
        }
    };
    plain("twitch.server".to_owned(), &t.server);
    plain("twitch.login".to_owned(), &t.login);
    for (i, channel) in t.channels.iter().enumerate() {
        plain(format!("twitch.channels[{i}]"), channel);
    }
    for (key, secret) in [("twitch.token", &t.token), ("http.admin_token", &s.http.admin_token)] {
        if let Some(what) = forbidden_byte(secret.expose()) {
            problems.push(format!(
                "{key} holds {what} (the value is not shown, it is a secret): CR, LF and NUL \
                 would end an IRC line early and inject a command; set the token without them"
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Secret;

    #[test]
    fn every_wire_value_is_checked_and_secrets_are_not_shown() {
        let mut s = Settings::default();
        assert!(wire_problems(&s).is_empty(), "{:?}", wire_problems(&s));
        s.twitch.server = "irc.example\r\nQUIT".into();
        s.twitch.login = "me\0".into();
        s.twitch.channels = vec!["lacy".into(), "x\nJOIN #evil".into()];
        s.twitch.token = Secret::new("abc\r\nJOIN #evil");
        s.http.admin_token = Secret::new("topsecret\n");
        let p = wire_problems(&s);
        assert_eq!(p.len(), 5, "{p:#?}");
        for key in ["twitch.server", "twitch.login", "twitch.channels[1]", "twitch.token", "http.admin_token"] {
            assert!(p.iter().any(|m| m.starts_with(key)), "{key} missing in {p:#?}");
        }
        let all = p.join("\n");
        assert!(!all.contains("abc") && !all.contains("topsecret"), "{all}");
    }
}

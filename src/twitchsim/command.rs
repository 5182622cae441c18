//! Parsing of the lines an IRC client sends to the fake server into [`ClientCommand`]s.
//! Pure and total: any input (tags, prefixes, missing parameters, junk) gives a command,
//! `Unknown` at worst, and never a panic. The PASS value is wrapped in [`Secret`] so that a
//! `{:?}` of a command can never print a token.

use std::fmt;

/// A password or OAuth token received in PASS; its Debug output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value as the client sent it (for assertions; never log it).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// What a client line asks of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientCommand {
    /// `CAP REQ :<caps>`, with the capability list as sent.
    CapReq(String),
    /// `CAP LS [302]`.
    CapLs,
    /// `CAP END` or any other CAP subcommand: nothing to answer.
    CapOther,
    /// `PASS <secret>`.
    Pass(Secret),
    /// `NICK <nick>`.
    Nick(String),
    /// `USER ...`: accepted, nothing to answer.
    User,
    /// `JOIN #a,#b`: the targets as sent.
    Join(Vec<String>),
    /// `PART #a,#b`.
    Part(Vec<String>),
    /// `PING [:token]`.
    Ping(Option<String>),
    /// `PONG [:token]`.
    Pong(Option<String>),
    /// `PRIVMSG ...`: read-only server, dropped.
    Privmsg,
    /// `QUIT`.
    Quit,
    /// Blank line.
    Empty,
    /// Anything else: the command word.
    Unknown(String),
}

/// Parses one client line (without its line ending, though a trailing `\r` is tolerated).
pub(crate) fn parse(line: &str) -> ClientCommand {
    let mut rest = line.trim_end_matches(['\r', '\n']).trim_start();
    if rest.starts_with('@') {
        rest = after_word(rest);
    }
    if rest.starts_with(':') {
        rest = after_word(rest);
    }
    let (command, params) = split_command(rest);
    let params = split_params(params);
    let first = params.first().map(|p| p.to_string());
    match command.to_ascii_uppercase().as_str() {
        "" => ClientCommand::Empty,
        "CAP" => match params.first().map(|s| s.to_ascii_uppercase()).as_deref() {
            Some("REQ") => ClientCommand::CapReq(params.get(1).unwrap_or(&"").to_string()),
            Some("LS") => ClientCommand::CapLs,
            _ => ClientCommand::CapOther,
        },
        "PASS" => ClientCommand::Pass(Secret(first.unwrap_or_default())),
        "NICK" => match first {
            Some(nick) if !nick.is_empty() => ClientCommand::Nick(nick),
            _ => ClientCommand::Unknown("NICK".to_owned()),
        },
        "USER" => ClientCommand::User,
        "JOIN" => ClientCommand::Join(targets(first)),
        "PART" => ClientCommand::Part(targets(first)),
        "PING" => ClientCommand::Ping(first),
        "PONG" => ClientCommand::Pong(params.last().map(|p| p.to_string())),
        "PRIVMSG" => ClientCommand::Privmsg,
        "QUIT" => ClientCommand::Quit,
        other => ClientCommand::Unknown(other.to_owned()),
    }
}

/// The text after the first space-delimited word, without leading spaces.
fn after_word(s: &str) -> &str {
    s.split_once(' ').map_or("", |(_, rest)| rest.trim_start())
}

fn split_command(s: &str) -> (&str, &str) {
    match s.split_once(' ') {
        Some((command, params)) => (command, params),
        None => (s, ""),
    }
}

/// IRC parameters: space-separated middles, then everything after ` :` as one trailing.
fn split_params(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        if let Some(trailing) = rest.strip_prefix(':') {
            out.push(trailing);
            break;
        }
        match rest.split_once(' ') {
            Some((word, more)) => {
                out.push(word);
                rest = more.trim_start();
            }
            None => {
                out.push(rest);
                break;
            }
        }
    }
    out
}

fn targets(list: Option<String>) -> Vec<String> {
    list.unwrap_or_default().split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_twitch_handshake() {
        assert_eq!(
            parse("CAP REQ :twitch.tv/tags twitch.tv/commands\r"),
            ClientCommand::CapReq("twitch.tv/tags twitch.tv/commands".into())
        );
        assert_eq!(parse("CAP LS 302"), ClientCommand::CapLs);
        assert_eq!(parse("CAP END"), ClientCommand::CapOther);
        assert_eq!(parse("PASS oauth:abc"), ClientCommand::Pass(Secret("oauth:abc".into())));
        assert_eq!(parse("nick justinfan12345"), ClientCommand::Nick("justinfan12345".into()));
        assert_eq!(parse("USER a 8 * :a"), ClientCommand::User);
        assert_eq!(parse("JOIN #a,#b,,#c"), ClientCommand::Join(vec!["#a".into(), "#b".into(), "#c".into()]));
        assert_eq!(parse("PART #a"), ClientCommand::Part(vec!["#a".into()]));
    }

    #[test]
    fn parses_pings_pongs_tags_and_prefixes() {
        assert_eq!(parse("PING :tmi.twitch.tv"), ClientCommand::Ping(Some("tmi.twitch.tv".into())));
        assert_eq!(parse("PING x"), ClientCommand::Ping(Some("x".into())));
        assert_eq!(parse("PING"), ClientCommand::Ping(None));
        assert_eq!(parse("@a=b :me!me@me PONG tmi.twitch.tv :token 1"), ClientCommand::Pong(Some("token 1".into())));
        assert_eq!(parse("PRIVMSG #a :hi"), ClientCommand::Privmsg);
        assert_eq!(parse("QUIT :bye"), ClientCommand::Quit);
    }

    #[test]
    fn junk_is_unknown_or_empty_never_a_panic() {
        assert_eq!(parse(""), ClientCommand::Empty);
        assert_eq!(parse("   \r"), ClientCommand::Empty);
        assert_eq!(parse("@only-tags"), ClientCommand::Empty);
        assert_eq!(parse("NICK"), ClientCommand::Unknown("NICK".into()));
        assert_eq!(parse("JOIN"), ClientCommand::Join(vec![]));
        assert_eq!(parse("FOO bar"), ClientCommand::Unknown("FOO".into()));
        assert_eq!(parse("CAP REQ"), ClientCommand::CapReq(String::new()));
        for junk in ["\u{0}\u{1}", ": :", "@;;; ::", "ÿ PING :é"] {
            let _ = parse(junk);
        }
    }

    #[test]
    fn secret_debug_is_redacted() {
        let cmd = parse("PASS oauth:supersecret");
        assert!(!format!("{cmd:?}").contains("supersecret"));
    }
}

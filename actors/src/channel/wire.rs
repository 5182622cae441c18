//! Writing IRC lines to the wire: one command and its parameters become one `\r\n`-terminated
//! line, and a parameter holding CR, LF or NUL is refused (never sent), so that no value, even
//! one that slipped past the configuration checks, can end a line early and smuggle a second
//! command (`abc\r\nJOIN #evil`). The error names the command and the parameter's position,
//! never its value: a parameter may be a secret (PASS).

/// A line that was not written because a parameter would have broken the framing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused to send IRC {command}: parameter {position} holds {what}, which would end the line early and inject another command; fix the configured value (the value is not shown, it may be a secret)")]
pub struct UnsafeParam {
    /// The IRC command that was not sent (`PASS`, `NICK`, `JOIN`, ...).
    pub command: &'static str,
    /// 1-based position of the offending parameter.
    pub position: usize,
    /// The forbidden byte found, in words ("a line feed (LF)", ...); never the value itself.
    pub what: &'static str,
}

/// The name of the first byte of `value` that may not appear in an IRC parameter, if any.
pub fn forbidden_byte(value: &str) -> Option<&'static str> {
    value.bytes().find_map(|b| match b {
        b'\r' => Some("a carriage return (CR)"),
        b'\n' => Some("a line feed (LF)"),
        0 => Some("a NUL byte"),
        _ => None,
    })
}

/// `COMMAND p1 p2 ...\r\n`; the caller writes a trailing parameter with its own `:` prefix.
pub fn irc_line(command: &'static str, params: &[&str]) -> Result<String, UnsafeParam> {
    let mut line = String::from(command);
    for (i, p) in params.iter().enumerate() {
        if let Some(what) = forbidden_byte(p) {
            return Err(UnsafeParam { command, position: i + 1, what });
        }
        line.push(' ');
        line.push_str(p);
    }
    line.push_str("\r\n");
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_parameters_make_one_line() {
        assert_eq!(irc_line("JOIN", &["#lacy"]).unwrap(), "JOIN #lacy\r\n");
        assert_eq!(irc_line("PASS", &["oauth:abc"]).unwrap(), "PASS oauth:abc\r\n");
        assert_eq!(irc_line("PONG", &[":tmi.twitch.tv"]).unwrap(), "PONG :tmi.twitch.tv\r\n");
    }

    #[test]
    fn cr_lf_and_nul_are_refused_without_echoing_the_value() {
        for (bad, what) in
            [("oauth:abc\r\nJOIN #evil", "(CR)"), ("oauth:abc\nJOIN #evil", "(LF)"), ("oauth:abc\0", "NUL")]
        {
            let err = irc_line("PASS", &[bad]).expect_err(bad);
            assert_eq!((err.command, err.position), ("PASS", 1), "{bad:?}");
            let text = err.to_string();
            assert!(text.contains(what), "{text}");
            assert!(!text.contains("abc") && !text.contains("evil"), "value echoed: {text}");
        }
        let err = irc_line("JOIN", &["#ok", "#a\rb"]).expect_err("second parameter");
        assert_eq!(err.position, 2);
    }
}

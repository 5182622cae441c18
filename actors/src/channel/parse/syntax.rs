//! The shape check a line passes before irc-proto sees it. irc-proto's `Message::from_str` is
//! lenient: it turns "tags without command", an empty prefix or a stray space into a `Raw`
//! command with an empty or odd name instead of an error. This check walks the same
//! `[@tags ][:prefix ]command ...` layout and rejects such lines as `Malformed`, so that
//! "unknown command" only ever means a well-formed line with an unexpected command word.

use super::RejectReason;

/// Longest alphabetic command word accepted (Twitch's longest is `GLOBALUSERSTATE`, 15).
const MAX_COMMAND_LEN: usize = 32;

/// Returns the line without its terminator if its shape is a plausible IRC message.
pub(super) fn check(line: &str) -> Result<&str, RejectReason> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.is_empty() || has_forbidden_byte(line.as_bytes()) {
        return Err(RejectReason::Malformed);
    }
    let mut rest = line;
    if let Some(after) = rest.strip_prefix('@') {
        rest = non_empty_word(after)?;
    }
    if let Some(after) = rest.strip_prefix(':') {
        rest = non_empty_word(after)?;
    }
    let command = rest.split(' ').next().unwrap_or("");
    if is_command_word(command) {
        Ok(line)
    } else {
        Err(RejectReason::Malformed)
    }
}

/// Does `bytes` hold a NUL, CR or LF? A fold over `u8` without early exit, so that the
/// compiler vectorises it (`any`, or a fold over `bool`, stay a byte-by-byte loop).
fn has_forbidden_byte(bytes: &[u8]) -> bool {
    let seen =
        bytes.iter().fold(0u8, |seen, &b| seen | u8::from(b == b'\0') | u8::from(b == b'\r') | u8::from(b == b'\n'));
    seen != 0
}

/// `s` must start with a non-empty word followed by one space; returns what follows the space.
fn non_empty_word(s: &str) -> Result<&str, RejectReason> {
    match s.split_once(' ') {
        Some((word, tail)) if !word.is_empty() => Ok(tail),
        _ => Err(RejectReason::Malformed),
    }
}

/// An IRC command: letters, or a three-digit numeric reply.
fn is_command_word(word: &str) -> bool {
    let bytes = word.as_bytes();
    let letters = !bytes.is_empty() && bytes.len() <= MAX_COMMAND_LEN && bytes.iter().all(u8::is_ascii_alphabetic);
    let numeric = bytes.len() == 3 && bytes.iter().all(u8::is_ascii_digit);
    letters || numeric
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_well_formed_shapes() {
        for ok in [
            "PING :tmi.twitch.tv",
            "RECONNECT",
            ":tmi.twitch.tv 001 justinfan1 :Welcome, GLHF!",
            "@a=b;c= :n!n@n.tmi.twitch.tv PRIVMSG #c :x",
            "@a=b PRIVMSG #c :x",
        ] {
            assert_eq!(check(ok), Ok(ok), "{ok}");
        }
        assert_eq!(check("PING :x\r\n"), Ok("PING :x"));
        assert_eq!(check("PING :x\n"), Ok("PING :x"));
    }

    #[test]
    fn rejects_bad_shapes() {
        for bad in [
            "",
            "@",
            "@ PRIVMSG #c :x",
            "@a=b",
            "@a=b ",
            "@a=b  PRIVMSG #c :x",
            ":",
            ": PRIVMSG #c :x",
            ":nick!u@h",
            ":nick!u@h ",
            "@a=b :nick!u@h",
            "PRIV\0MSG #c :x",
            "PRIVMSG #c :a\rb",
            "12 :x",
            "1234 :x",
            "PRIV-MSG #c",
            ":a :b PRIVMSG #c :x",
            "\u{1}\u{2}\u{3}",
        ] {
            assert_eq!(check(bad), Err(RejectReason::Malformed), "{bad:?}");
        }
    }
}

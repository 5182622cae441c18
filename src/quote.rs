//! Quoting values that came from outside (a login in a URL, a channel in a body, a parser's
//! message about either) inside error messages: short values are quoted whole, long ones are
//! cut to their first [`MAX_QUOTED_CHARS`] characters with their full length named, so a 10 KB
//! login never comes back whole in an answer or a log line.

/// Most characters of an outside value quoted in an error.
pub const MAX_QUOTED_CHARS: usize = 64;

/// `raw` quoted as Rust's `{:?}` does; past [`MAX_QUOTED_CHARS`] characters, the head quoted
/// and `… (N bytes)` after it.
pub fn clipped(raw: &str) -> String {
    if raw.chars().count() <= MAX_QUOTED_CHARS {
        return format!("{raw:?}");
    }
    let head: String = raw.chars().take(MAX_QUOTED_CHARS).collect();
    format!("{head:?}… ({} bytes)", raw.len())
}

/// `raw` unquoted (for a `{:?}` in the message) and, past [`MAX_QUOTED_CHARS`] characters,
/// its head with `... (N bytes)` after it.
pub fn shortened(raw: &str) -> String {
    match raw.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((i, _)) => format!("{}... ({} bytes)", &raw[..i], raw.len()),
        None => raw.to_owned(),
    }
}

/// A message built by someone else (a parser's rejection text that may quote the input) cut to
/// at most `max` characters, with `…` marking the cut.
pub fn clip_message(msg: &str, max: usize) -> String {
    if msg.chars().count() <= max {
        return msg.to_owned();
    }
    let head: String = msg.chars().take(max).collect();
    format!("{head}… (cut, {} bytes in all)", msg.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_whole() {
        assert_eq!(clipped("lacy"), "\"lacy\"");
        assert_eq!(clipped(""), "\"\"");
        assert_eq!(clipped("a\nb"), "\"a\\nb\"");
        let edge = "x".repeat(MAX_QUOTED_CHARS);
        assert_eq!(clipped(&edge), format!("{edge:?}"));
    }

    #[test]
    fn long_values_are_cut_and_their_length_named() {
        let long = "a".repeat(10_240);
        let q = clipped(&long);
        assert!(q.len() < 100, "{q}");
        assert!(q.ends_with("… (10240 bytes)"), "{q}");
        // Multi-byte characters are never split.
        let wide = "é".repeat(100);
        assert!(clipped(&wide).starts_with(&format!("\"{}\"", "é".repeat(MAX_QUOTED_CHARS))));
    }

    #[test]
    fn shortened_keeps_short_values_and_cuts_long_ones_on_a_character() {
        let edge = "x".repeat(MAX_QUOTED_CHARS);
        assert_eq!(shortened(&edge), edge);
        let wide = "é".repeat(100);
        assert_eq!(shortened(&wide), format!("{}... (200 bytes)", "é".repeat(MAX_QUOTED_CHARS)));
    }

    #[test]
    fn foreign_messages_are_cut() {
        assert_eq!(clip_message("short", 10), "short");
        let m = clip_message(&"b".repeat(500), 200);
        assert!(m.starts_with(&"b".repeat(200)) && m.ends_with("(cut, 500 bytes in all)"), "{m}");
    }
}

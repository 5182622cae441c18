//! Drops the tags the classifier never reads before irc-proto parses a line. A Twitch PRIVMSG
//! carries about 20 tags and irc-proto allocates two Strings per tag (and unescapes each
//! value); the classifier reads at most 9 (`Tags::KEYS`). Keeping only those roughly halves the
//! cost of a line, which is what keeps parsing above performance.md's 300,000 lines/s bar.
//!
//! The result parses to the same `Line`: tags are split exactly as irc-proto splits them (on
//! `;`, key before the first `=`; an escaped value never holds a raw `;` or space), and kept
//! tags stay in their order, so "last wins" for a repeated key is unchanged.

use std::borrow::Cow;

use super::participant::Tags;

/// `line` (already shape-checked) with only the tags in [`Tags::KEYS`].
pub(super) fn keep_used_tags(line: &str) -> Cow<'_, str> {
    let Some(after_at) = line.strip_prefix('@') else {
        return Cow::Borrowed(line);
    };
    let Some((tags, rest)) = after_at.split_once(' ') else {
        return Cow::Borrowed(line);
    };
    let mut out = String::with_capacity(line.len());
    for tag in tags.split(';') {
        let key = tag.split_once('=').map_or(tag, |(k, _)| k);
        if Tags::KEYS.contains(&key) {
            out.push(if out.is_empty() { '@' } else { ';' });
            out.push_str(tag);
        }
    }
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_used_tags_in_order() {
        let line = r"@badges=a/1;id=x;color=#fff;display-name=A\sB;user-id=7;flags= :a!a@a PRIVMSG #c :hi";
        assert_eq!(keep_used_tags(line), r"@id=x;display-name=A\sB;user-id=7 :a!a@a PRIVMSG #c :hi");
    }

    #[test]
    fn no_used_tags_drops_the_tag_section() {
        assert_eq!(keep_used_tags("@badges=;color= :tmi.twitch.tv CLEARCHAT #c"), ":tmi.twitch.tv CLEARCHAT #c");
    }

    #[test]
    fn lines_without_tags_are_borrowed() {
        assert!(matches!(keep_used_tags("PING :x"), Cow::Borrowed("PING :x")));
    }

    #[test]
    fn every_key_is_read_by_tags_take() {
        use irc::proto::message::Tag;
        let empty = format!("{:?}", Tags::default());
        for key in Tags::KEYS {
            let tags = Tags::take(Some(vec![Tag(key.to_string(), Some("v".into()))]));
            assert_ne!(format!("{tags:?}"), empty, "{key} is kept but not read");
        }
    }
}

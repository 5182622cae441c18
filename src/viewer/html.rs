//! The page's one escaping helper: [`Esc`] writes text safely into HTML element content and
//! into double- or single-quoted attribute values (`&`, `<`, `>`, `"` and `'` become character
//! references), and [`query`] builds a percent-encoded query string for links. Every value that
//! did not come from this module's own literals goes through one of them. Pure.

use std::fmt;

/// Text to escape when written with `{}`.
pub struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// `path?k=v&k=v` with each pair percent-encoded (form encoding); pairs with an empty value
/// are left out. The result still goes through [`Esc`] when put in an attribute.
pub fn query(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        ser.append_pair(k, v);
    }
    let q = ser.finish();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{q}")
    }
}

/// At most `max` characters of `s`, with an ellipsis when cut (for echoing what was typed).
pub fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(Esc(r#"<a href="x">'&'</a>"#).to_string(), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        assert_eq!(Esc("plain_login42").to_string(), "plain_login42");
        assert_eq!(Esc("").to_string(), "");
        assert_eq!(Esc("é<ü>").to_string(), "é&lt;ü&gt;");
        assert_eq!(Esc("&amp;").to_string(), "&amp;amp;", "escaped again, never trusted");
    }

    #[test]
    fn query_strings_are_encoded() {
        assert_eq!(
            query("/claims", &[("login", "bob"), ("channel", ""), ("before", "3600")]),
            "/claims?login=bob&before=3600"
        );
        assert_eq!(query("/claims", &[("login", "a&b=c <d>")]), "/claims?login=a%26b%3Dc+%3Cd%3E");
        assert_eq!(query("/", &[]), "/");
    }

    #[test]
    fn long_input_is_clipped() {
        assert_eq!(clip("abcdef", 3), "abc…");
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("ééé", 2), "éé…");
    }
}

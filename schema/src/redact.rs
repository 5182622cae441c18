//! Keeping secrets out of messages: `redact_url` masks the password of a store URL (in the
//! authority and in `password=` query parameters), and `Scrubber` removes a known password from
//! any text (driver error messages sometimes echo the connection string). Every error and log
//! line this crate produces goes through one of them. Pure string handling, no I/O.

/// The mask written where a password was.
pub const MASK: &str = "***";

/// Query parameters whose value is a secret (PostgreSQL accepts `?password=`).
const SECRET_PARAMS: [&str; 4] = ["password", "pass", "pwd", "sslpassword"];

/// `postgres://user:pw@host/db?password=x` -> `postgres://user:***@host/db?password=***`.
/// URLs without a password, and strings that are not URLs, come back unchanged.
pub fn redact_url(url: &str) -> String {
    redact_url_with(url, MASK)
}

/// [`redact_url`] writing `mask` where a (non-empty) password was: the one rule for masking
/// store URLs, used by the store's errors and by the printed configuration alike.
pub fn redact_url_with(url: &str, mask: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.split_once(':') {
                Some((user, pass)) if !pass.is_empty() => format!("{user}:{mask}{host}"),
                _ => authority.to_owned(),
            }
        }
        None => authority.to_owned(),
    };
    format!("{scheme}{authority}{}", redact_query(tail, mask))
}

/// Masks the value of every (non-empty) secret query parameter in `tail` (path, query and
/// fragment).
fn redact_query(tail: &str, mask: &str) -> String {
    let Some(q) = tail.find('?') else {
        return tail.to_owned();
    };
    let (path, query) = tail.split_at(q + 1);
    let (query, fragment) = match query.find('#') {
        Some(h) => query.split_at(h),
        None => (query, ""),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !v.is_empty() && SECRET_PARAMS.iter().any(|s| k.eq_ignore_ascii_case(s)) => {
                format!("{k}={mask}")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}{}{fragment}", pairs.join("&"))
}

/// The passwords found in `url` (authority and secret query parameters), raw and
/// percent-decoded, longest first, for scrubbing free text.
fn secrets_of(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        if let Some((_, pw)) = userinfo.split_once(':') {
            found.push(pw.to_owned());
        }
    }
    if let Some((_, query)) = rest.split_once('?') {
        let query = query.split('#').next().unwrap_or("");
        for pair in query.split('&') {
            if let Some((k, v)) = pair.split_once('=') {
                if SECRET_PARAMS.iter().any(|s| k.eq_ignore_ascii_case(s)) {
                    found.push(v.to_owned());
                }
            }
        }
    }
    let decoded: Vec<String> = found.iter().map(|s| percent_decode(s)).collect();
    found.extend(decoded);
    found.retain(|s| !s.is_empty());
    found.sort_by_key(|s| std::cmp::Reverse(s.len()));
    found.dedup();
    found
}

/// Minimal percent-decoding (invalid escapes are kept as they are).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Removes the passwords of one store URL from arbitrary text (error details, log lines).
/// Its `Debug` shows how many secrets it holds, never the secrets.
#[derive(Clone, Default)]
pub struct Scrubber {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scrubber({} secrets)", self.secrets.len())
    }
}

impl Scrubber {
    /// A scrubber for the secrets of `url`.
    pub fn for_url(url: &str) -> Scrubber {
        Scrubber { secrets: secrets_of(url) }
    }

    /// `text` with every known secret replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_authority_password() {
        assert_eq!(
            redact_url("postgres://alice:s3cret@db.example:5432/chatseal"),
            "postgres://alice:***@db.example:5432/chatseal"
        );
    }

    #[test]
    fn masks_query_password_and_keeps_the_rest() {
        assert_eq!(
            redact_url("postgres://alice@h/db?sslmode=require&password=p%40ss#frag"),
            "postgres://alice@h/db?sslmode=require&password=***#frag"
        );
    }

    #[test]
    fn leaves_urls_without_secrets_alone() {
        for u in ["sqlite://data/chatseal.db", "sqlite::memory:", "postgres://root@127.0.0.1/test"] {
            assert_eq!(redact_url(u), u);
        }
    }

    #[test]
    fn password_containing_at_sign_is_masked_entirely() {
        assert_eq!(redact_url("postgres://u:p@ss@h/db"), "postgres://u:***@h/db");
    }

    #[test]
    fn scrubber_removes_raw_and_decoded_password() {
        let s = Scrubber::for_url("postgres://u:p%40ss@h/db");
        assert_eq!(s.scrub("bad url postgres://u:p%40ss@h/db"), "bad url postgres://u:***@h/db");
        assert_eq!(s.scrub("auth failed for p@ss"), "auth failed for ***");
        assert!(!format!("{s:?}").contains("ss"));
    }
}

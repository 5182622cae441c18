//! `chatseal opt-out --user LOGIN [--reason TEXT]`: records an opt-out in the store, with its
//! audit entry, for when the daemon is stopped or shares a PostgreSQL store with this command.
//! From then on the user gets no proof for any epoch and is left out of every seal not yet
//! made; sealed roots are never rewritten. A daemon running on the store reads it back within
//! a second (`daemon::opt_out_sync`) and from then on refuses the user's proofs and drops their
//! chat lines at ingest (`POST /v1/admin/opt-out` does both at once). [`record`] is the one
//! path both this command and the HTTP route take.

use std::path::Path;

use chatseal_actors::format::{to_hex, user_hash};
use chatseal_schema::{Store, StoreError};
use serde::Serialize;

use super::setup;
use crate::exit::Exit;

/// Longest reason kept in the store, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// Why an opt-out was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum OptOutError {
    #[error("{0} is not a Twitch login (1 to 64 letters, digits or underscores, optionally after '@')")]
    /// The login as given, quoted and cut short (`crate::quote::clipped`).
    BadLogin(String),
    /// The reason is longer than [`MAX_REASON_CHARS`] (its length, in characters).
    #[error("the reason is {0} characters long; at most {MAX_REASON_CHARS} are kept")]
    ReasonTooLong(usize),
    /// Writing the opt-out failed.
    #[error("recording the opt-out: {0}")]
    Store(#[from] StoreError),
}

/// What was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recorded {
    /// Lowercase login.
    pub login: String,
    /// `0x` + keccak256 of the login.
    pub user_hash: String,
    /// False when the user had opted out before (the repeat is audited all the same).
    pub new: bool,
}

/// The lowercase login of `raw` (surrounding blanks and one leading '@' ignored).
pub fn normalize_login(raw: &str) -> Result<String, OptOutError> {
    let t = raw.trim();
    let l = t.strip_prefix('@').unwrap_or(t).to_ascii_lowercase();
    if l.is_empty() || l.len() > 64 || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(OptOutError::BadLogin(crate::quote::clipped(raw)));
    }
    Ok(l)
}

/// Records that `login` opted out at `at` (Unix seconds) with `reason`, and its audit entry.
pub async fn record(store: &Store, login: &str, reason: &str, at: i64) -> Result<Recorded, OptOutError> {
    let login = normalize_login(login)?;
    let reason = reason.trim();
    let chars = reason.chars().count();
    if chars > MAX_REASON_CHARS {
        return Err(OptOutError::ReasonTooLong(chars));
    }
    let uh = to_hex(&user_hash(&login));
    let new = store.opt_out(&uh, &login, reason, at).await?;
    Ok(Recorded { login, user_hash: format!("0x{uh}"), new })
}

/// What the command prints for `r`.
pub fn report(r: &Recorded) -> String {
    let first = if r.new {
        format!("opted out {} (user_hash {}); recorded with an audit entry", r.login, r.user_hash)
    } else {
        format!("{} (user_hash {}) had already opted out; the repeat is in the audit log", r.login, r.user_hash)
    };
    format!(
        "{first}\nfrom now on: no proof for any epoch, left out of every seal not yet made; sealed roots are unchanged\n\
         a daemon running on this store refuses their proofs and drops their chat lines within a second (POST /v1/admin/opt-out does it at once)\n"
    )
}

/// Runs `chatseal opt-out`: records the opt-out of `user` (`reason` kept in the audit entry).
pub async fn main(config: Option<&Path>, user: &str, reason: Option<&str>) -> Exit {
    if let Err(e) = normalize_login(user) {
        eprintln!("--user: {e}");
        return Exit::Usage;
    }
    let s = match setup::load_settings(config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let store = match setup::open_store(&s).await {
        Ok(st) => st,
        Err(code) => return code,
    };
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let code = match record(&store, user, reason.unwrap_or(""), now).await {
        Ok(r) => {
            print!("{}", report(&r));
            Exit::Ok
        }
        Err(e @ (OptOutError::BadLogin(_) | OptOutError::ReasonTooLong(_))) => {
            eprintln!("{e}");
            Exit::Usage
        }
        Err(OptOutError::Store(e)) => {
            eprintln!("recording the opt-out: {e}");
            setup::store_exit_code(&e)
        }
    };
    let _ = store.checkpoint().await;
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_normalized_or_refused() {
        assert_eq!(normalize_login(" @Jam_Grace18 ").unwrap(), "jam_grace18");
        for bad in ["", "@", "a b", "emoji😀", "semi;colon", &"x".repeat(65)] {
            assert!(matches!(normalize_login(bad), Err(OptOutError::BadLogin(_))), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn record_writes_the_opt_out_once_and_audits_every_request() {
        let (url, _dir) = chatseal_schema::testing::fresh_sqlite_url();
        let store = Store::open(&url).await.unwrap();
        let first = record(&store, "DizzyBreezyy", " asked on stream ", 100).await.unwrap();
        assert_eq!(
            first,
            Recorded {
                login: "dizzybreezyy".into(),
                user_hash: "0x00211351fa907cf7cc37110fd2e2c61551049549dbe40818f00d305b53d199b3".into(),
                new: true
            }
        );
        assert!(report(&first).starts_with("opted out dizzybreezyy"));
        let again = record(&store, "dizzybreezyy", "", 101).await.unwrap();
        assert!(!again.new && report(&again).contains("already opted out"));
        assert_eq!(store.opted_out_logins().await.unwrap(), ["dizzybreezyy"]);
        let audit = store.audit_log(10).await.unwrap();
        assert_eq!(audit.len(), 2);
        assert!(audit.iter().all(|a| a.action == "opt_out"));
        assert!(audit[1].detail.contains("reason=asked on stream"), "{}", audit[1].detail);
        let long = "r".repeat(MAX_REASON_CHARS + 1);
        assert!(matches!(record(&store, "x", &long, 1).await, Err(OptOutError::ReasonTooLong(_))));
        assert!(!store.is_opted_out(&to_hex(&user_hash("x"))).await.unwrap());
    }
}

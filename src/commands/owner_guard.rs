//! The guard of commands that replace or rewrite a store (`restore`, `migrate --to`): they
//! refuse a store that a live daemon owns (exit 75), whatever `http.listen` says. On SQLite the
//! command holds the store's lock for its whole run, so no daemon starts on a half-restored
//! file; on PostgreSQL it checks the member rows without migrating the database.

use chatseal_schema::ownership::lease::live_owner_at;
use chatseal_schema::ownership::lockfile::StoreLock;
use chatseal_schema::ownership::{OwnerInfo, OwnershipError};
use chatseal_schema::{redact_url, sqlite_path};

use crate::exit::Exit;

/// What the command holds while it runs (dropping it releases a SQLite store).
#[derive(Debug)]
pub struct Guard(#[allow(dead_code)] Option<StoreLock>);

/// Takes or checks the store at `url` for `command`; on refusal prints why and returns the
/// exit code (75 owned, 69 unreachable, 70 otherwise).
pub async fn guard(url: &str, command: &str) -> Result<Guard, Exit> {
    if let Some(db) = sqlite_path(url) {
        let me = OwnerInfo::this_process("", &format!("`chatseal {command}`"), false);
        return match StoreLock::acquire(&db, &me) {
            Ok(lock) => Ok(Guard(Some(lock))),
            Err(e) => {
                eprintln!("refusing to {command}: {e}");
                Err(if e.is_owned() { Exit::Owned } else { Exit::Internal })
            }
        };
    }
    if url.starts_with("postgres") {
        return match live_owner_at(url).await {
            Ok(None) => Ok(Guard(None)),
            Ok(Some(m)) => {
                let e = OwnershipError::Owned {
                    store: redact_url(url),
                    owner: Box::new(m.owner),
                    check: "check with `SELECT * FROM store_member` in that database".into(),
                };
                eprintln!("refusing to {command}: {e}");
                Err(Exit::Owned)
            }
            Err(e) => {
                eprintln!("refusing to {command}: {e}");
                Err(if e.is_unavailable() { Exit::Unavailable } else { Exit::Internal })
            }
        };
    }
    Ok(Guard(None))
}

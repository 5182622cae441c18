//! SQLite's `PRAGMA quick_check` on a connection: run at open (before anything is written), by
//! [`crate::Store::quick_check`], and on a backup file before it is trusted.

use crate::error::{ErrCtx, StoreError};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

/// Rows of `PRAGMA quick_check` other than the single "ok": the problems SQLite found.
pub(crate) async fn sqlite_quick_check(db: &DatabaseConnection, ctx: &ErrCtx) -> Result<Vec<String>, StoreError> {
    let what = "running PRAGMA quick_check";
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), "PRAGMA quick_check"))
        .await
        .map_err(ctx.at(what))?;
    let mut problems = Vec::new();
    for row in rows {
        let line: String = row.try_get_by_index(0).map_err(ctx.at(what))?;
        if line != "ok" {
            problems.push(line);
        }
    }
    Ok(problems)
}

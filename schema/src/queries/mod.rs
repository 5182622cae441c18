//! The typed queries the actors use, one file per concern (flush, seal, read, opt-out, meta),
//! and the small helpers they share. Statements that need ON CONFLICT arithmetic are written
//! as SQL text. Short fixed statements use `$1, $2, ...`, which both PostgreSQL and sqlx's
//! SQLite driver bind by number, so ONE text serves both; long multi-row statements get their
//! placeholders per backend (see `placeholder`). Simple lookups use the entities.
//! Multi-row statements are chunked below both engines' bound-parameter limits.

pub mod channel_ids;
pub mod channels;
pub mod flush;
pub(crate) mod merge;
pub mod meta;
pub mod optout;
pub mod publish;
pub mod read;
pub mod seal;
pub(crate) mod sealed_rows;
pub mod user_epochs;
pub mod verify;
mod verify_index;
pub mod window;

use sea_orm::{DbBackend, Statement, Value};

/// Upper bound on bind parameters in one statement (SQLite allows 32766, PostgreSQL 65535).
pub(crate) const MAX_PARAMS: usize = 30_000;
/// Upper bound on rows in one multi-row statement (keeps statement texts few and cacheable).
pub(crate) const MAX_ROWS: usize = 1_000;

/// How many rows of `cols` columns fit in one statement.
pub(crate) fn rows_per_chunk(cols: usize) -> usize {
    (MAX_PARAMS / cols.max(1)).clamp(1, MAX_ROWS)
}

/// The n-th (1-based) bind placeholder: `$n` on PostgreSQL, `?` on SQLite. (sqlx's SQLite
/// driver also binds `$n`, but SQLite looks named parameters up in a linear list, which makes
/// a statement with thousands of them quadratic; anonymous `?` bind in order.)
fn placeholder(backend: DbBackend, n: usize, out: &mut String) {
    match backend {
        DbBackend::Sqlite => out.push('?'),
        _ => {
            out.push('$');
            out.push_str(&n.to_string());
        }
    }
}

/// `($1, $2), ($3, $4)` (or `(?, ?), (?, ?)`) for `rows` rows of `cols` placeholders each.
pub(crate) fn values_list(backend: DbBackend, rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push_str(", ");
            }
            placeholder(backend, r * cols + c + 1, &mut s);
        }
        s.push(')');
    }
    s
}

/// `n` placeholders numbered from `start`, comma-separated, for IN lists.
pub(crate) fn placeholders(backend: DbBackend, start: usize, n: usize) -> String {
    let mut s = String::with_capacity(n * 4);
    for i in start..start + n {
        if i > start {
            s.push_str(", ");
        }
        placeholder(backend, i, &mut s);
    }
    s
}

/// A statement for `backend` with numbered placeholders.
pub(crate) fn stmt(backend: DbBackend, sql: impl Into<String>, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(backend, sql, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_lists() {
        assert_eq!(values_list(DbBackend::Postgres, 2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values_list(DbBackend::Sqlite, 2, 2), "(?, ?), (?, ?)");
        assert_eq!(values_list(DbBackend::Postgres, 1, 1), "($1)");
        assert_eq!(placeholders(DbBackend::Postgres, 3, 3), "$3, $4, $5");
        assert_eq!(placeholders(DbBackend::Sqlite, 1, 2), "?, ?");
    }

    #[test]
    fn chunks_stay_under_limits() {
        for cols in 1..=10 {
            let rows = rows_per_chunk(cols);
            assert!((1..=MAX_ROWS).contains(&rows) && rows * cols <= MAX_PARAMS);
        }
    }
}

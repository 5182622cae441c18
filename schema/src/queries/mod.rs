//! The typed queries the actors use, one file per concern (flush, seal, read, opt-out, meta),
//! and the small helpers they share. Statements that need ON CONFLICT arithmetic are written
//! as SQL text with `$1, $2, ...` placeholders, which both PostgreSQL and sqlx's SQLite driver
//! bind by number, so ONE text serves both backends; simple lookups use the entities.
//! Multi-row statements are chunked below both engines' bound-parameter limits.

pub mod flush;
pub(crate) mod merge;
pub mod meta;
pub mod optout;
pub mod read;
pub mod seal;
pub mod verify;

use sea_orm::{DbBackend, Statement, Value};

/// Upper bound on bind parameters in one statement (SQLite allows 32766, PostgreSQL 65535).
pub(crate) const MAX_PARAMS: usize = 30_000;
/// Upper bound on rows in one multi-row statement (keeps statement texts few and cacheable).
pub(crate) const MAX_ROWS: usize = 1_000;

/// How many rows of `cols` columns fit in one statement.
pub(crate) fn rows_per_chunk(cols: usize) -> usize {
    (MAX_PARAMS / cols.max(1)).clamp(1, MAX_ROWS)
}

/// `($1, $2), ($3, $4)` for `rows` rows of `cols` placeholders each.
pub(crate) fn values_list(rows: usize, cols: usize) -> String {
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
            s.push('$');
            s.push_str(&(r * cols + c + 1).to_string());
        }
        s.push(')');
    }
    s
}

/// `$start, $start+1, ...` (`n` placeholders), for IN lists.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
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
        assert_eq!(values_list(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values_list(1, 1), "($1)");
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
    }

    #[test]
    fn chunks_stay_under_limits() {
        for cols in 1..=10 {
            let rows = rows_per_chunk(cols);
            assert!(rows >= 1 && rows <= MAX_ROWS && rows * cols <= MAX_PARAMS);
        }
    }
}

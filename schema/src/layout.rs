//! The compact layout of `sealed_participants` (migration m20261207_000009), in one place: the
//! table's statement per engine and its two indexes, used by the migration (which creates the
//! table under [`STAGING_TABLE`]) and by the conversion's last step (which renames it and builds
//! the indexes). The format is the same on both engines: hashes as 32 raw bytes (BLOB, bytea;
//! empty for a missing claim leaf), the channel as its integer id in `channel_ids`, idx and
//! epoch as 64-bit integers, login and amount as text. On SQLite the table is `WITHOUT ROWID`:
//! its rows live in the primary key's b-tree instead of beside a separate index of it.
//!
//! The second step (migration m20261208_000010) puts `users`, `participation` and `signals` in
//! the same format ([`ROW_TABLES`]): user_hash as 32 raw bytes, the channel as its id, the
//! signal kind as its [`crate::SignalKind::code`], the conflict key of the flush's upserts as
//! the PRIMARY KEY, `WITHOUT ROWID` on SQLite.
//!
//! The third step (migration m20261209_000011) puts `sealed_participants` in the keyed layout
//! ([`create_keyed_table_sql`]): the PRIMARY KEY is (epoch, channel_id, user_hash), one leaf
//! per user and seal and the lookup of a user's leaf, so the unique index [`USER_INDEX`] goes;
//! idx is an ordinary column (a seal read in idx order sorts in memory); `leaf` and
//! `claim_leaf` are NULL where they are the leaves the format computes from the row
//! (`crate::leaves`, the one place that decides and fills them in). Its only index is
//! [`USER_EPOCHS_INDEX`].
//!
//! The fourth step (migration m20261210_000012) puts `seen_ids` in the same format
//! ([`create_seen_ids_sql`]): the message id as its key of `crate::message_keys` (a tag byte
//! and 16 bytes for a UUID), the channel as its id, keyed by the id, `WITHOUT ROWID` on
//! SQLite; its one index serves the seal's deletion of an (epoch, channel)'s ids.

use crate::backend::Backend;

/// The table's final name.
pub const TABLE: &str = "sealed_participants";
/// The name the keyed layout has while an existing store is converted (the third step).
pub const KEYED_STAGING_TABLE: &str = "sealed_participants_keyed";
/// The name it has while an existing store is converted (see `migration::compact`).
pub const STAGING_TABLE: &str = "sealed_participants_compact";
/// Unique (epoch, channel_id, user_hash): one leaf per user and seal, and the lookup of a
/// user's leaf in a seal.
pub const USER_INDEX: &str = "uq_sealed_participants_user";
/// (user_hash, epoch, channel_id): a user's sealed hours (see `queries::user_epochs`).
pub const USER_EPOCHS_INDEX: &str = crate::migration::m20261206_000007_user_epochs_index::USER_EPOCHS_INDEX;

/// `CREATE TABLE IF NOT EXISTS name (body)` of a compact layout, `body` given the engine's
/// binary type; `WITHOUT ROWID` on SQLite.
fn create_sql(backend: Backend, name: &str, body: impl FnOnce(&str) -> String) -> String {
    let (blob, tail) = match backend {
        Backend::Sqlite => ("BLOB", " WITHOUT ROWID"),
        Backend::Postgres => ("bytea", ""),
    };
    format!("CREATE TABLE IF NOT EXISTS {name} ({}){tail}", body(blob))
}

/// `CREATE TABLE` of the compact layout under `name`.
pub fn create_table_sql(backend: Backend, name: &str) -> String {
    create_sql(backend, name, |blob| {
        format!(
            "epoch BIGINT NOT NULL, channel_id INTEGER NOT NULL, idx BIGINT NOT NULL, user_hash {blob} NOT NULL, \
             login TEXT NOT NULL, leaf {blob} NOT NULL, amount TEXT NOT NULL, claim_leaf {blob} NOT NULL, \
             PRIMARY KEY (epoch, channel_id, idx)"
        )
    })
}

/// The indexes of the compact table (named as the old layout's, which they replace).
pub fn create_indexes_sql() -> [String; 2] {
    [
        format!("CREATE UNIQUE INDEX IF NOT EXISTS {USER_INDEX} ON {TABLE} (epoch, channel_id, user_hash)"),
        format!("CREATE INDEX IF NOT EXISTS {USER_EPOCHS_INDEX} ON {TABLE} (user_hash, epoch, channel_id)"),
    ]
}

/// `CREATE TABLE` of the keyed layout (the third step, see the module doc) under `name`.
pub fn create_keyed_table_sql(backend: Backend, name: &str) -> String {
    create_sql(backend, name, |blob| {
        format!(
            "epoch BIGINT NOT NULL, channel_id INTEGER NOT NULL, user_hash {blob} NOT NULL, idx BIGINT NOT NULL, \
             login TEXT NOT NULL, amount TEXT NOT NULL, leaf {blob} NULL, claim_leaf {blob} NULL, \
             PRIMARY KEY (epoch, channel_id, user_hash)"
        )
    })
}

/// The index of the keyed table: a user's sealed hours.
pub fn create_keyed_indexes_sql() -> [String; 1] {
    [format!("CREATE INDEX IF NOT EXISTS {USER_EPOCHS_INDEX} ON {TABLE} (user_hash, epoch, channel_id)")]
}

/// The tables of the second step, in the order the conversion moves them.
pub const ROW_TABLES: [&str; 3] = ["users", "participation", "signals"];

/// The name a table of [`ROW_TABLES`] has while an existing store is converted.
pub fn row_staging(table: &str) -> String {
    format!("{table}_compact")
}

/// SQL that gives the [`crate::SignalKind::name`] of the code in `column` (the code as text
/// for an unknown one), for reads of the compact `signals` in the text form.
pub fn kind_name_sql(column: &str) -> String {
    let whens: String =
        crate::SignalKind::ALL.iter().map(|k| format!(" WHEN {} THEN '{}'", k.code(), k.name())).collect();
    format!("CASE {column}{whens} ELSE CAST({column} AS TEXT) END")
}

/// `CREATE TABLE` of `table` (one of [`ROW_TABLES`]) in the compact layout under `name`; None
/// for any other table.
pub fn create_row_table_sql(backend: Backend, table: &str, name: &str) -> Option<String> {
    let body = |blob: &str| match table {
        "users" => Some(format!(
            "user_hash {blob} NOT NULL, login TEXT NOT NULL, user_id TEXT NULL, display_name TEXT NULL, \
             first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, PRIMARY KEY (user_hash)"
        )),
        "participation" => Some(format!(
            "epoch BIGINT NOT NULL, channel_id INTEGER NOT NULL, user_hash {blob} NOT NULL, \
             first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, PRIMARY KEY (epoch, channel_id, user_hash)"
        )),
        "signals" => Some(format!(
            "epoch BIGINT NOT NULL, channel_id INTEGER NOT NULL, user_hash {blob} NOT NULL, kind INTEGER NOT NULL, \
             value BIGINT NOT NULL, PRIMARY KEY (epoch, channel_id, user_hash, kind)"
        )),
        _ => None,
    };
    body("").map(|_| create_sql(backend, name, |blob| body(blob).unwrap_or_default()))
}

/// The index of `seen_ids` by (epoch, channel_id): a seal deletes its ids with it.
pub const SEEN_IDS_INDEX: &str = "idx_seen_ids_epoch_channel";

/// `CREATE TABLE` of `seen_ids` in the compact layout (the fourth step) under `name`.
pub fn create_seen_ids_sql(backend: Backend, name: &str) -> String {
    create_sql(backend, name, |blob| {
        format!("id {blob} NOT NULL, epoch BIGINT NOT NULL, channel_id INTEGER NOT NULL, PRIMARY KEY (id)")
    })
}

/// The index of the compact `seen_ids`.
pub fn create_seen_ids_index_sql() -> String {
    format!("CREATE INDEX IF NOT EXISTS {SEEN_IDS_INDEX} ON seen_ids (epoch, channel_id)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_format_with_the_engines_own_blob_type() {
        let lite = create_table_sql(Backend::Sqlite, TABLE);
        let pg = create_table_sql(Backend::Postgres, TABLE);
        assert!(lite.ends_with("WITHOUT ROWID") && lite.contains("user_hash BLOB NOT NULL"), "{lite}");
        assert!(!pg.contains("WITHOUT") && pg.contains("user_hash bytea NOT NULL"), "{pg}");
        assert_eq!(lite.replace("BLOB", "bytea").replace(" WITHOUT ROWID", ""), pg);
    }

    #[test]
    fn keyed_layout_is_keyed_by_user_with_nullable_leaves() {
        let lite = create_keyed_table_sql(Backend::Sqlite, KEYED_STAGING_TABLE);
        let pg = create_keyed_table_sql(Backend::Postgres, KEYED_STAGING_TABLE);
        assert!(lite.contains("PRIMARY KEY (epoch, channel_id, user_hash)) WITHOUT ROWID"), "{lite}");
        assert!(lite.contains("leaf BLOB NULL") && lite.contains("claim_leaf BLOB NULL"), "{lite}");
        assert_eq!(lite.replace("BLOB", "bytea").replace(" WITHOUT ROWID", ""), pg);
        assert!(create_keyed_indexes_sql().iter().all(|i| !i.contains(USER_INDEX)));
    }

    #[test]
    fn row_tables_have_their_conflict_key_as_primary_key() {
        for t in ROW_TABLES {
            let lite = create_row_table_sql(Backend::Sqlite, t, &row_staging(t)).unwrap();
            let pg = create_row_table_sql(Backend::Postgres, t, t).unwrap();
            assert!(lite.starts_with(&format!("CREATE TABLE IF NOT EXISTS {t}_compact (")), "{lite}");
            assert!(lite.ends_with("WITHOUT ROWID") && lite.contains("user_hash BLOB NOT NULL"), "{lite}");
            assert!(!pg.contains("WITHOUT") && !pg.contains("BLOB") && pg.contains("user_hash bytea"), "{pg}");
        }
        let p = create_row_table_sql(Backend::Sqlite, "participation", "p").unwrap();
        assert!(p.contains("PRIMARY KEY (epoch, channel_id, user_hash))"), "{p}");
        let s = create_row_table_sql(Backend::Sqlite, "signals", "s").unwrap();
        assert!(s.contains("kind INTEGER NOT NULL") && s.contains("PRIMARY KEY (epoch, channel_id, user_hash, kind))"));
        assert_eq!(create_row_table_sql(Backend::Sqlite, "seen_ids", "x"), None);
    }

    #[test]
    fn seen_ids_are_keyed_by_their_binary_key() {
        let lite = create_seen_ids_sql(Backend::Sqlite, "seen_ids");
        let pg = create_seen_ids_sql(Backend::Postgres, "seen_ids");
        assert!(lite.contains("id BLOB NOT NULL") && lite.ends_with("PRIMARY KEY (id)) WITHOUT ROWID"), "{lite}");
        assert_eq!(lite.replace("BLOB", "bytea").replace(" WITHOUT ROWID", ""), pg);
        assert!(create_seen_ids_index_sql().contains("(epoch, channel_id)"));
    }
}

//! The compact layout of `sealed_participants` (migration m20261207_000009), in one place: the
//! table's statement per engine and its two indexes, used by the migration (which creates the
//! table under [`STAGING_TABLE`]) and by the conversion's last step (which renames it and builds
//! the indexes). The format is the same on both engines: hashes as 32 raw bytes (BLOB, bytea;
//! empty for a missing claim leaf), the channel as its integer id in `channel_ids`, idx and
//! epoch as 64-bit integers, login and amount as text. On SQLite the table is `WITHOUT ROWID`:
//! its rows live in the primary key's b-tree instead of beside a separate index of it.

use crate::backend::Backend;

/// The table's final name.
pub const TABLE: &str = "sealed_participants";
/// The name it has while an existing store is converted (see `migration::compact`).
pub const STAGING_TABLE: &str = "sealed_participants_compact";
/// Unique (epoch, channel_id, user_hash): one leaf per user and seal, and the lookup of a
/// user's leaf in a seal.
pub const USER_INDEX: &str = "uq_sealed_participants_user";
/// (user_hash, epoch, channel_id): a user's sealed hours (see `queries::user_epochs`).
pub const USER_EPOCHS_INDEX: &str = crate::migration::m20261206_000007_user_epochs_index::USER_EPOCHS_INDEX;

/// `CREATE TABLE` of the compact layout under `name`.
pub fn create_table_sql(backend: Backend, name: &str) -> String {
    let (blob, tail) = match backend {
        Backend::Sqlite => ("BLOB", " WITHOUT ROWID"),
        Backend::Postgres => ("bytea", ""),
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {name} (\
         epoch BIGINT NOT NULL, \
         channel_id INTEGER NOT NULL, \
         idx BIGINT NOT NULL, \
         user_hash {blob} NOT NULL, \
         login TEXT NOT NULL, \
         leaf {blob} NOT NULL, \
         amount TEXT NOT NULL, \
         claim_leaf {blob} NOT NULL, \
         PRIMARY KEY (epoch, channel_id, idx)){tail}"
    )
}

/// The indexes of the compact table (named as the old layout's, which they replace).
pub fn create_indexes_sql() -> [String; 2] {
    [
        format!("CREATE UNIQUE INDEX IF NOT EXISTS {USER_INDEX} ON {TABLE} (epoch, channel_id, user_hash)"),
        format!("CREATE INDEX IF NOT EXISTS {USER_EPOCHS_INDEX} ON {TABLE} (user_hash, epoch, channel_id)"),
    ]
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
}

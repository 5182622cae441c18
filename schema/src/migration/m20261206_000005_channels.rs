//! `channels`: the channel set of the store (every daemon on the store reads these channels).
//! Its changes are audited in `audit_log`, counted in `meta` (`channels.version`, which running
//! daemons poll) and the config list last applied is kept in `meta` too (see
//! `queries::channels`). New and empty: existing stores are seeded from their configuration at
//! the daemon's next start.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, text};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn create_channels() -> TableCreateStatement {
    Table::create()
        .table("channels")
        .if_not_exists()
        .col(text("name").primary_key())
        .col(big_integer("added_at"))
        .col(text("added_by"))
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(create_channels()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("channels").if_exists().to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_key_and_two_columns_on_both_backends() {
        let pg = create_channels().to_string(PostgresQueryBuilder);
        assert!(pg.contains(r#""name" text NOT NULL PRIMARY KEY"#), "{pg}");
        assert!(pg.contains(r#""added_at" bigint NOT NULL"#), "{pg}");
        let lite = create_channels().to_string(SqliteQueryBuilder);
        assert!(lite.contains(r#""added_by" text NOT NULL"#), "{lite}");
    }
}

//! `publications`: the record that a sealed root was posted on chain, one row per (epoch,
//! channel): the root as sealed, the operator's transaction id, and when it was recorded. Seals
//! with a root and no row here are the unpublished backlog (`chatseal export --unpublished`,
//! the `chatseal_unpublished_*` gauges). A new table: no existing row is touched.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, text};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn create() -> TableCreateStatement {
    Table::create()
        .table("publications")
        .if_not_exists()
        .col(big_integer("epoch"))
        .col(text("channel"))
        .col(text("root"))
        .col(text("tx"))
        .col(big_integer("published_at"))
        .primary_key(Index::create().col("epoch").col("channel"))
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(create()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("publications").if_exists().to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_channel_epoch_on_both_backends() {
        let pg = create().to_string(PostgresQueryBuilder);
        assert!(pg.contains(r#""epoch" bigint NOT NULL"#) && pg.contains(r#""tx" text NOT NULL"#), "{pg}");
        assert!(pg.contains(r#"PRIMARY KEY ("epoch", "channel")"#), "{pg}");
        let lite = create().to_string(SqliteQueryBuilder);
        assert!(lite.contains(r#"PRIMARY KEY ("epoch", "channel")"#), "{lite}");
    }
}

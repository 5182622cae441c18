//! `idx_sealed_participants_user_epoch` on `sealed_participants (user_hash, epoch, channel)`:
//! the index behind "which sealed hours am I in?" (`GET /v1/users/{login}/epochs` and the
//! viewer's page). A user's sealed hours are one range of it, newest first by a backward scan,
//! so a page costs a few index steps whatever the size of the store. On an existing store the
//! first start after the upgrade builds it inside the migration's transaction (a few seconds
//! per million sealed participants; see docs/viewer.md).

use sea_orm_migration::prelude::*;

/// The migration.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The index's name, as `EXPLAIN` shows it.
pub const USER_EPOCHS_INDEX: &str = "idx_sealed_participants_user_epoch";

fn create_index() -> IndexCreateStatement {
    Index::create()
        .name(USER_EPOCHS_INDEX)
        .table("sealed_participants")
        .col("user_hash")
        .col("epoch")
        .col("channel")
        .if_not_exists()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_index(create_index()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(USER_EPOCHS_INDEX).table("sealed_participants").to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_index_on_both_backends() {
        let pg = create_index().to_string(PostgresQueryBuilder);
        assert_eq!(
            pg,
            r#"CREATE INDEX IF NOT EXISTS "idx_sealed_participants_user_epoch" ON "sealed_participants" ("user_hash", "epoch", "channel")"#
        );
        let lite = create_index().to_string(SqliteQueryBuilder);
        assert_eq!(
            lite,
            r#"CREATE INDEX IF NOT EXISTS "idx_sealed_participants_user_epoch" ON "sealed_participants" ("user_hash", "epoch", "channel")"#
        );
    }
}

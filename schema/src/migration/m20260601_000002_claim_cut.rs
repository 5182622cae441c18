//! `sealed_epochs.claim_cut`: how many participants a seal left out of its claim tree because
//! of the configured claim cap (`sealing.max_claim_leaves`). NULL (every seal written before this
//! migration) and 0 both mean nobody was cut. Nullable, so adding it rewrites no existing row.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::big_integer_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn add_claim_cut() -> TableAlterStatement {
    Table::alter().table("sealed_epochs").add_column(big_integer_null("claim_cut")).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(add_claim_cut()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("sealed_epochs").drop_column("claim_cut").to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_a_nullable_bigint_on_both_backends() {
        let pg = add_claim_cut().to_string(PostgresQueryBuilder);
        assert_eq!(pg, r#"ALTER TABLE "sealed_epochs" ADD COLUMN "claim_cut" bigint NULL"#);
        // SQLite's INTEGER is a 64-bit integer.
        let lite = add_claim_cut().to_string(SqliteQueryBuilder);
        assert_eq!(lite, r#"ALTER TABLE "sealed_epochs" ADD COLUMN "claim_cut" integer NULL"#);
    }
}

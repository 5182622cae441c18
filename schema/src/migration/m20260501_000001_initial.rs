//! The initial schema: every table of `crate::entity`, their keys and indexes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, double, integer, text, text_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn pk(cols: &[&'static str]) -> IndexCreateStatement {
    let mut idx = Index::create();
    for c in cols {
        idx.col(*c);
    }
    idx
}

fn tables() -> Vec<TableCreateStatement> {
    vec![
        Table::create()
            .table("participation")
            .if_not_exists()
            .col(big_integer("epoch"))
            .col(text("channel"))
            .col(text("user_hash"))
            .col(big_integer("first_seen"))
            .col(big_integer("last_seen"))
            .primary_key(&mut pk(&["epoch", "channel", "user_hash"]))
            .to_owned(),
        Table::create()
            .table("signals")
            .if_not_exists()
            .col(big_integer("epoch"))
            .col(text("channel"))
            .col(text("user_hash"))
            .col(text("kind"))
            .col(big_integer("value"))
            .primary_key(&mut pk(&["epoch", "channel", "user_hash", "kind"]))
            .to_owned(),
        Table::create()
            .table("users")
            .if_not_exists()
            .col(text("user_hash").primary_key())
            .col(text("login"))
            .col(text_null("user_id"))
            .col(text_null("display_name"))
            .col(big_integer("first_seen"))
            .col(big_integer("last_seen"))
            .to_owned(),
        Table::create()
            .table("seen_ids")
            .if_not_exists()
            .col(text("id").primary_key())
            .col(big_integer("epoch"))
            .col(text("channel"))
            .to_owned(),
        Table::create()
            .table("coverage")
            .if_not_exists()
            .col(text("channel"))
            .col(big_integer("started_ms"))
            .col(big_integer("until_ms"))
            .primary_key(&mut pk(&["channel", "started_ms"]))
            .to_owned(),
        Table::create()
            .table("sealed_epochs")
            .if_not_exists()
            .col(big_integer("epoch"))
            .col(text("channel"))
            .col(text_null("root"))
            .col(text_null("claim_root"))
            .col(big_integer("participants"))
            .col(double("coverage"))
            .col(text("digest"))
            .col(big_integer("sealed_at"))
            .col(integer("format_version"))
            .primary_key(&mut pk(&["epoch", "channel"]))
            .to_owned(),
        Table::create()
            .table("sealed_participants")
            .if_not_exists()
            .col(big_integer("epoch"))
            .col(text("channel"))
            .col(big_integer("idx"))
            .col(text("user_hash"))
            .col(text("login"))
            .col(text("leaf"))
            .col(text("amount"))
            .col(text("claim_leaf"))
            .primary_key(&mut pk(&["epoch", "channel", "idx"]))
            .to_owned(),
        Table::create()
            .table("opt_outs")
            .if_not_exists()
            .col(text("user_hash").primary_key())
            .col(text("login"))
            .col(big_integer("created_at"))
            .col(text("reason"))
            .to_owned(),
        Table::create()
            .table("audit_log")
            .if_not_exists()
            .col(big_integer("id").auto_increment().primary_key())
            .col(big_integer("at"))
            .col(text("action"))
            .col(text("subject"))
            .col(text("detail"))
            .to_owned(),
        Table::create().table("meta").if_not_exists().col(text("key").primary_key()).col(text("value")).to_owned(),
    ]
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("idx_seen_ids_epoch_channel")
            .table("seen_ids")
            .col("epoch")
            .col("channel")
            .if_not_exists()
            .to_owned(),
        Index::create()
            .name("uq_sealed_participants_user")
            .table("sealed_participants")
            .col("epoch")
            .col("channel")
            .col("user_hash")
            .unique()
            .if_not_exists()
            .to_owned(),
        Index::create()
            .name("idx_sealed_epochs_channel_epoch")
            .table("sealed_epochs")
            .col("channel")
            .col("epoch")
            .if_not_exists()
            .to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in crate::entity::TABLES.iter().rev() {
            manager.drop_table(Table::drop().table(*name).if_exists().to_owned()).await?;
        }
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ddl<B: SchemaBuilder + Default>() -> String {
        tables().iter().map(|t| t.to_string(B::default())).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn postgres_ddl_uses_bigint_text_and_identity() {
        let pg = ddl::<PostgresQueryBuilder>();
        assert!(!pg.contains("varchar") && !pg.contains(" int "), "{pg}");
        assert!(pg.contains(r#""epoch" bigint NOT NULL"#));
        assert!(pg.contains(r#""coverage" double precision NOT NULL"#));
        assert!(pg.contains(r#""format_version" integer NOT NULL"#));
        assert!(pg.contains(r#""id" bigint GENERATED BY DEFAULT AS IDENTITY NOT NULL PRIMARY KEY"#));
        assert!(pg.contains(r#"PRIMARY KEY ("epoch", "channel", "user_hash", "kind")"#));
    }

    #[test]
    fn sqlite_ddl_has_autoincrement_and_keys() {
        let lite = ddl::<SqliteQueryBuilder>();
        assert!(lite.contains(r#""id" integer NOT NULL PRIMARY KEY AUTOINCREMENT"#), "{lite}");
        assert!(lite.contains(r#"PRIMARY KEY ("epoch", "channel", "idx")"#));
        // Later migrations add tables of their own (channels, publications); this one creates
        // the first ten.
        assert_eq!(tables().len(), 10);
    }
}

//! `cluster_slot`: the channel slots of a cluster (cluster.md, "Channel slots"): `replicas`
//! slots per channel, each with its holder and, during a make-before-break hand-over, the
//! member taking it over (`next_holder`, `next_ready` once that member reads the channel).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer_null, boolean, integer, text, text_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn slots() -> TableCreateStatement {
    Table::create()
        .table("cluster_slot")
        .if_not_exists()
        .col(text("channel"))
        .col(integer("slot"))
        .col(text_null("holder"))
        .col(text_null("next_holder"))
        .col(boolean("next_ready"))
        // Since when the slot has had no live holder (NULL while held).
        .col(big_integer_null("unowned_since_ms"))
        .primary_key(Index::create().col("channel").col("slot"))
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(slots()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("cluster_slot").to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

//! `store_member`: who owns the store (one row per daemon; several rows only for the members of
//! a cluster), with each member's sealing watermark (`ack_epoch`). `cluster_role`: the sealer
//! and backup roles with their fencing numbers. Used on PostgreSQL (SQLite's owner is a lock
//! file beside the database), created on both engines so that one schema serves both. Not
//! data: copies and backups leave them out.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_integer_null, boolean, text, text_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn members() -> TableCreateStatement {
    Table::create()
        .table("store_member")
        .if_not_exists()
        .col(text("instance").primary_key())
        .col(big_integer("token"))
        .col(boolean("clustered"))
        .col(text("host"))
        .col(big_integer("pid"))
        .col(text("http"))
        .col(big_integer("since_ms"))
        .col(big_integer("heartbeat_ms"))
        .col(big_integer("lease_ttl_ms"))
        .col(big_integer_null("backend_pid"))
        .col(big_integer_null("backend_start_ms"))
        // Every line of epochs <= ack_epoch this member received is durable, and it treats
        // later lines of those epochs as late. NULL: nothing acknowledged yet.
        .col(big_integer_null("ack_epoch"))
        .to_owned()
}

fn roles() -> TableCreateStatement {
    Table::create()
        .table("cluster_role")
        .if_not_exists()
        .col(text("role").primary_key())
        .col(text_null("holder"))
        .col(big_integer_null("holder_token"))
        // Grows by one at every change of holder; seal and backup writes carry it.
        .col(big_integer("fence"))
        .col(big_integer_null("since_ms"))
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(members()).await?;
        manager.create_table(roles()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("cluster_role").to_owned()).await?;
        manager.drop_table(Table::drop().table("store_member").to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

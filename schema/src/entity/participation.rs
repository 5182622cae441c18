//! `participation`: who took part in a channel in an epoch, with the first and last time seen.

use sea_orm::entity::prelude::*;

/// One user's presence in a channel-epoch.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "participation")]
pub struct Model {
    /// The epoch (Unix seconds of its start).
    #[sea_orm(primary_key, auto_increment = false)]
    pub epoch: i64,
    /// The channel login.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub channel: String,
    /// The user hash (64 lowercase hex).
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub user_hash: String,
    /// Unix seconds.
    pub first_seen: i64,
    /// Unix seconds.
    pub last_seen: i64,
}

/// No relations: the store has no foreign keys (see the module doc of `crate::entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

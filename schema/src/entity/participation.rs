//! `participation`: who took part in a channel in an epoch, with the first and last time seen.
//! The compact layout of migration m20261208_000010 (see `crate::layout`): the channel as its
//! `channel_ids` id, the user hash as 32 raw bytes (`crate::keys`).

use sea_orm::entity::prelude::*;

/// One user's presence in a channel-epoch.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "participation")]
pub struct Model {
    /// The epoch (Unix seconds of its start).
    #[sea_orm(primary_key, auto_increment = false)]
    pub epoch: i64,
    /// The channel's id in `channel_ids`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub channel_id: i32,
    /// The user hash, 32 bytes.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Blob")]
    pub user_hash: Vec<u8>,
    /// Unix seconds.
    pub first_seen: i64,
    /// Unix seconds.
    pub last_seen: i64,
}

/// No relations: the store has no foreign keys (see the module doc of `crate::entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

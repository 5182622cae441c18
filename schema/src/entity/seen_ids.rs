//! `seen_ids`: message ids already counted in epochs not sealed yet (deduplication); a seal
//! deletes its (epoch, channel)'s ids. The compact layout of migration m20261210_000012 (see
//! `crate::layout`): the id as its key of `crate::message_keys`, the channel as its
//! `channel_ids` id.

use sea_orm::entity::prelude::*;

/// One counted message id.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "seen_ids")]
pub struct Model {
    /// The message id's key (`crate::message_keys::SeenKey`).
    #[sea_orm(primary_key, auto_increment = false, column_type = "Blob")]
    pub id: Vec<u8>,
    /// The epoch it was counted in.
    pub epoch: i64,
    /// The channel's id in `channel_ids`.
    pub channel_id: i32,
}

/// No relations: the store has no foreign keys (see the module doc of `crate::entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

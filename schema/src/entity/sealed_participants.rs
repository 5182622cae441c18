//! `sealed_participants`: the frozen leaves of a sealed (epoch, channel), by index; each user
//! at most once per (epoch, channel). Written once, never changed. The compact layout of
//! migration m20261207_000009 (see `crate::layout`): the channel as its `channel_ids` id,
//! hashes as 32 raw bytes (`crate::keys`).

use sea_orm::entity::prelude::*;

/// One frozen leaf.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sealed_participants")]
pub struct Model {
    /// The sealed epoch (Unix seconds of its start).
    #[sea_orm(primary_key, auto_increment = false)]
    pub epoch: i64,
    /// The channel's id in `channel_ids`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub channel_id: i32,
    /// The frozen 0-based leaf index.
    #[sea_orm(primary_key, auto_increment = false)]
    pub idx: i64,
    /// The user hash, 32 bytes.
    #[sea_orm(column_type = "Blob")]
    pub user_hash: Vec<u8>,
    /// The login as sealed.
    #[sea_orm(column_type = "Text")]
    pub login: String,
    /// The participation leaf, 32 bytes.
    #[sea_orm(column_type = "Blob")]
    pub leaf: Vec<u8>,
    /// u64 base units as a decimal string.
    #[sea_orm(column_type = "Text")]
    pub amount: String,
    /// The claim leaf, 32 bytes (empty where the seal has none: imported legacy seals).
    #[sea_orm(column_type = "Blob")]
    pub claim_leaf: Vec<u8>,
}

/// No relations: the store has no foreign keys (see the module doc of `crate::entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! `sealed_participants`: the frozen leaves of a sealed (epoch, channel), one per user. Written
//! once, never changed. The keyed layout of migration m20261209_000011 (see `crate::layout`):
//! keyed by (epoch, channel_id, user_hash), the channel as its `channel_ids` id, hashes as 32
//! raw bytes (`crate::keys`), each leaf NULL where it is the one the format computes from the
//! row (`crate::leaves`).

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
    /// The user hash, 32 bytes.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Blob")]
    pub user_hash: Vec<u8>,
    /// The frozen 0-based leaf index.
    pub idx: i64,
    /// The login as sealed.
    #[sea_orm(column_type = "Text")]
    pub login: String,
    /// u64 base units as a decimal string.
    #[sea_orm(column_type = "Text")]
    pub amount: String,
    /// The participation leaf, 32 bytes; NULL where it is the computed one.
    #[sea_orm(column_type = "Blob", nullable)]
    pub leaf: Option<Vec<u8>>,
    /// The claim leaf, 32 bytes (empty where the seal has none: imported legacy seals); NULL
    /// where it is the computed one.
    #[sea_orm(column_type = "Blob", nullable)]
    pub claim_leaf: Option<Vec<u8>>,
}

/// No relations: the store has no foreign keys (see the module doc of `crate::entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! `publications`: that a sealed root was posted on chain (migration m20261206_000006): the
//! root as sealed (64 lowercase hex, no `0x`), the operator's transaction id, when it was
//! recorded. One row per (epoch, channel), written once.

use sea_orm::entity::prelude::*;

/// One publication.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "publications")]
pub struct Model {
    /// The sealed epoch.
    #[sea_orm(primary_key, auto_increment = false)]
    pub epoch: i64,
    /// The channel login.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub channel: String,
    /// The root as sealed (64 lowercase hex).
    #[sea_orm(column_type = "Text")]
    pub root: String,
    /// The operator's transaction id.
    #[sea_orm(column_type = "Text")]
    pub tx: String,
    /// Unix seconds.
    pub published_at: i64,
}

/// No relations: the store has no foreign keys (see the module doc of `crate::entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

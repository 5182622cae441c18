//! `publications`: that a sealed root was posted on chain (migration m20261206_000006): the
//! root as sealed (64 lowercase hex, no `0x`), the operator's transaction id, when it was
//! recorded. One row per (epoch, channel), written once.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "publications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub epoch: i64,
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub channel: String,
    #[sea_orm(column_type = "Text")]
    pub root: String,
    #[sea_orm(column_type = "Text")]
    pub tx: String,
    /// Unix seconds.
    pub published_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

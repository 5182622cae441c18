//! `seen_ids`: message ids already counted in epochs not sealed yet (deduplication); a seal
//! deletes its (epoch, channel)'s ids.

use sea_orm::entity::prelude::*;

/// One counted message id.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "seen_ids")]
pub struct Model {
    /// The message id (the IRC `id` tag).
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    /// The epoch it was counted in.
    pub epoch: i64,
    /// The channel login.
    #[sea_orm(column_type = "Text")]
    pub channel: String,
}

/// No relations: the store has no foreign keys (see the module doc of `crate::entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

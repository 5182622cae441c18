//! `channels`: the channel set of the store, one row per channel login (lowercase, no `#`).

use sea_orm::entity::prelude::*;

/// One channel of the set.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "channels")]
pub struct Model {
    /// The channel login.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub name: String,
    /// Unix seconds.
    pub added_at: i64,
    /// Who added it: `config`, `cli` or `admin`.
    #[sea_orm(column_type = "Text")]
    pub added_by: String,
}

/// No relations: the store has no foreign keys (see the module doc of `crate::entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! `channels`: the channel set of the store, one row per channel login (lowercase, no `#`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "channels")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub name: String,
    /// Unix seconds.
    pub added_at: i64,
    /// Who added it: `config`, `cli` or `admin`.
    #[sea_orm(column_type = "Text")]
    pub added_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

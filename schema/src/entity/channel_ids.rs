//! `channel_ids`: a small integer per channel login (lowercase, no `#`), so that tables with a
//! row per participant store a number instead of the name (migration m20261207_000009). Ids are
//! given on first use and never change nor get reused; a copy between stores keeps them.

use sea_orm::entity::prelude::*;

/// One channel's id.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "channel_ids")]
pub struct Model {
    /// The id (generated).
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The channel login, unique.
    #[sea_orm(column_type = "Text", unique)]
    pub name: String,
}

/// No relations: the store has no foreign keys (see the module doc of `crate::entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

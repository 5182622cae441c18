//! `coverage`: the intervals `[started_ms, until_ms)` during which a channel was joined.

use sea_orm::entity::prelude::*;

/// One joined interval.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "coverage")]
pub struct Model {
    /// The channel login.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub channel: String,
    /// Unix milliseconds.
    #[sea_orm(primary_key, auto_increment = false)]
    pub started_ms: i64,
    /// Unix milliseconds.
    pub until_ms: i64,
}

/// No relations: the store has no foreign keys (see the module doc of `crate::entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

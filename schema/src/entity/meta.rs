//! `meta`: small key/value facts about the store (schema notes, last backup, daemon state).

use sea_orm::entity::prelude::*;

/// One fact.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "meta")]
pub struct Model {
    /// The fact's name (e.g. `channels.version`).
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub key: String,
    /// Its value, as text.
    #[sea_orm(column_type = "Text")]
    pub value: String,
}

/// No relations: the store has no foreign keys (see the module doc of `crate::entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! `audit_log`: administrative actions (opt-outs, manual seals, restores), append-only.

use sea_orm::entity::prelude::*;

/// One audited action.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    /// Generated, increasing.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// What was done (`opt_out`, `channel_add`, `restore`, ...).
    #[sea_orm(column_type = "Text")]
    pub action: String,
    /// What it was done to (a user hash, `#channel`, ...).
    #[sea_orm(column_type = "Text")]
    pub subject: String,
    /// Details, `key=value` words.
    #[sea_orm(column_type = "Text")]
    pub detail: String,
}

/// No relations: the store has no foreign keys (see the module doc of `crate::entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

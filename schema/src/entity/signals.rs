//! `signals`: per participant, a running sum per kind; `kind` holds a
//! [`crate::SignalKind::name`], mapped to and from [`crate::Signals`] in `queries/` only.

use sea_orm::entity::prelude::*;

/// One participant's running sum of one kind.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signals")]
pub struct Model {
    /// The epoch (Unix seconds of its start).
    #[sea_orm(primary_key, auto_increment = false)]
    pub epoch: i64,
    /// The channel login.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub channel: String,
    /// The user hash (64 lowercase hex).
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub user_hash: String,
    /// A [`crate::SignalKind::name`].
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub kind: String,
    /// The sum.
    pub value: i64,
}

/// No relations: the store has no foreign keys (see the module doc of `crate::entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

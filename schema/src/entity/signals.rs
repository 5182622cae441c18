//! `signals`: per participant, a running sum per kind; `kind` holds a
//! [`crate::SignalKind::code`], mapped to and from [`crate::Signals`] in `queries/` only. The
//! compact layout of migration m20261208_000010 (see `crate::layout`).

use sea_orm::entity::prelude::*;

/// One participant's running sum of one kind.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signals")]
pub struct Model {
    /// The epoch (Unix seconds of its start).
    #[sea_orm(primary_key, auto_increment = false)]
    pub epoch: i64,
    /// The channel's id in `channel_ids`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub channel_id: i32,
    /// The user hash, 32 bytes.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Blob")]
    pub user_hash: Vec<u8>,
    /// A [`crate::SignalKind::code`].
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: i32,
    /// The sum.
    pub value: i64,
}

/// No relations: the store has no foreign keys (see the module doc of `crate::entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

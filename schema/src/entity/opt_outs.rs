//! `opt_outs`: users who asked not to be served (proofs answer 403 for them).

use sea_orm::entity::prelude::*;

/// One opted-out user.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "opt_outs")]
pub struct Model {
    /// The user hash (64 lowercase hex).
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub user_hash: String,
    /// The login they opted out with.
    #[sea_orm(column_type = "Text")]
    pub login: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Why, as given by the operator.
    #[sea_orm(column_type = "Text")]
    pub reason: String,
}

/// No relations: the store has no foreign keys (see the module doc of `crate::entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

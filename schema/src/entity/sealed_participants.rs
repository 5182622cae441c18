//! `sealed_participants`: the frozen leaves of a sealed (epoch, channel), by index; each user
//! at most once per (epoch, channel). Written once, never changed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sealed_participants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub epoch: i64,
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub channel: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub idx: i64,
    #[sea_orm(column_type = "Text")]
    pub user_hash: String,
    #[sea_orm(column_type = "Text")]
    pub login: String,
    #[sea_orm(column_type = "Text")]
    pub leaf: String,
    /// u64 base units as a decimal string.
    #[sea_orm(column_type = "Text")]
    pub amount: String,
    #[sea_orm(column_type = "Text")]
    pub claim_leaf: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

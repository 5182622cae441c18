//! `users`: the mapping from user_hash to the login, Twitch user id and display name last seen.

use sea_orm::entity::prelude::*;

/// One user.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// The user hash (64 lowercase hex).
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub user_hash: String,
    /// The login last seen.
    #[sea_orm(column_type = "Text")]
    pub login: String,
    /// The Twitch user id last seen, if any.
    #[sea_orm(column_type = "Text", nullable)]
    pub user_id: Option<String>,
    /// The display name last seen, if any.
    #[sea_orm(column_type = "Text", nullable)]
    pub display_name: Option<String>,
    /// Unix seconds.
    pub first_seen: i64,
    /// Unix seconds.
    pub last_seen: i64,
}

/// No relations: the store has no foreign keys (see the module doc of `crate::entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

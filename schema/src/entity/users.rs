//! `users`: the mapping from user_hash to the login, Twitch user id and display name last seen.
//! The compact layout of migration m20261208_000010 (see `crate::layout`): the user hash as 32
//! raw bytes (`crate::keys`).

use sea_orm::entity::prelude::*;

/// One user.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// The user hash, 32 bytes.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Blob")]
    pub user_hash: Vec<u8>,
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

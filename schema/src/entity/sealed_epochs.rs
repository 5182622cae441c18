//! `sealed_epochs`: one row per sealed (epoch, channel): roots (null when nobody took part),
//! participant count, coverage, the seal digest. Written once, never changed.

use sea_orm::entity::prelude::*;

/// One seal.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sealed_epochs")]
pub struct Model {
    /// The sealed epoch (Unix seconds of its start).
    #[sea_orm(primary_key, auto_increment = false)]
    pub epoch: i64,
    /// The channel login.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub channel: String,
    /// The participation root (64 lowercase hex); NULL when nobody took part.
    #[sea_orm(column_type = "Text", nullable)]
    pub root: Option<String>,
    /// The claim root (64 lowercase hex); NULL when nobody took part, and for imported legacy seals.
    #[sea_orm(column_type = "Text", nullable)]
    pub claim_root: Option<String>,
    /// How many participants (leaves of the participation tree).
    pub participants: i64,
    /// Fraction of the epoch the channel was joined, 0..=1.
    #[sea_orm(column_type = "Double")]
    pub coverage: f64,
    /// `crate::digest::seal_digest` of the seal.
    #[sea_orm(column_type = "Text")]
    pub digest: String,
    /// Unix seconds.
    pub sealed_at: i64,
    /// The sealing format (1 today; 0: an imported legacy root the leaves do not reproduce).
    pub format_version: i32,
    /// Participants left out of the claim tree by the claim cap (the last ones in index
    /// order); NULL or 0 = none. Added by migration m20260601_000002.
    pub claim_cut: Option<i64>,
}

/// No relations: the store has no foreign keys (see the module doc of `crate::entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

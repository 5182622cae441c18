//! The schema's history as sea-orm-migration migrations. `Migrator` lists them in order; the
//! store runs the pending ones at open, all inside one transaction (PostgreSQL and SQLite
//! both have transactional DDL), so a crash mid-migration leaves the previous schema intact.
//! A migration, once released, is never edited: change the schema with a new one.

use sea_orm_migration::prelude::*;

mod m20260501_000001_initial;

/// All migrations, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20260501_000001_initial::Migration)]
    }
}

/// The name of the newest migration this build knows (what a current store reports).
pub fn latest_migration() -> String {
    Migrator::migrations()
        .last()
        .map(|m| m.name().to_owned())
        .unwrap_or_default()
}

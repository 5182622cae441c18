//! The channel set (table `channels`): listing it, changing it (add/remove, each change audited
//! in `audit_log` with who made it, in the same transaction), the change counter running
//! daemons poll (`meta` `channels.version`, bumped in SQL in the same transaction, so two
//! concurrent changes never share a version), and applying the configuration's list by its
//! difference with the list applied last (`meta` `channels.config_applied`, like kubectl's
//! last-applied): a channel added or removed by hand stays as it is until the configuration's
//! own list changes about it.

use std::collections::BTreeSet;

use super::stmt;
use crate::backend::write_txn_options;
use crate::entity::channels;
use crate::error::StoreError;
use crate::open::Store;
use sea_orm::{ConnectionTrait, DatabaseTransaction, EntityTrait, QueryOrder, TransactionTrait};

/// `meta` key: the change counter of the channel set.
pub const VERSION_KEY: &str = "channels.version";
/// `meta` key: the `twitch.channels` list applied last, as a JSON array.
pub const CONFIG_APPLIED_KEY: &str = "channels.config_applied";

/// Who changed the set (the audit log's `by=`, the table's `added_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangedBy {
    /// `twitch.channels` of the configuration, applied at start-up.
    Config,
    /// `chatseal channels` on the command line.
    Cli,
    /// The admin HTTP API.
    Admin,
}

impl ChangedBy {
    /// The name written to `added_by` and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangedBy::Config => "config",
            ChangedBy::Cli => "cli",
            ChangedBy::Admin => "admin",
        }
    }
}

/// What a change did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChannelChange {
    /// Names that were not in the set and now are.
    pub added: Vec<String>,
    /// Names that were in the set and now are not.
    pub removed: Vec<String>,
    /// Names asked for that needed no change (already there, or already absent).
    pub unchanged: Vec<String>,
    /// The set's change counter after the change.
    pub version: i64,
}

/// The change that applying `current` after `last_applied` makes: (add, remove). Pure.
pub fn config_diff(last_applied: &BTreeSet<String>, current: &BTreeSet<String>) -> (Vec<String>, Vec<String>) {
    (current.difference(last_applied).cloned().collect(), last_applied.difference(current).cloned().collect())
}

fn parse_list(raw: Option<String>) -> Result<BTreeSet<String>, StoreError> {
    match raw {
        None => Ok(BTreeSet::new()),
        Some(text) => serde_json::from_str(&text).map_err(|e| StoreError::Invalid {
            what: "meta channels.config_applied",
            detail: format!("{text:?} is not a JSON array of channel names ({e}); delete that meta row to re-seed the set from the configuration"),
        }),
    }
}

impl Store {
    /// The channel set, sorted.
    pub async fn channel_set(&self) -> Result<Vec<String>, StoreError> {
        let rows = channels::Entity::find()
            .order_by_asc(channels::Column::Name)
            .all(&self.reader)
            .await
            .map_err(self.ctx.at("reading the channel set"))?;
        Ok(rows.into_iter().map(|r| r.name).collect())
    }

    /// Every row of the channel set (name, when and by whom it was added), sorted by name.
    pub async fn channel_rows(&self) -> Result<Vec<channels::Model>, StoreError> {
        channels::Entity::find()
            .order_by_asc(channels::Column::Name)
            .all(&self.reader)
            .await
            .map_err(self.ctx.at("reading the channel set"))
    }

    /// The set's change counter (0: never changed). Cheap: daemons poll it.
    pub async fn channel_set_version(&self) -> Result<i64, StoreError> {
        let raw = self.get_meta(VERSION_KEY).await?;
        Ok(raw.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// The `twitch.channels` list applied last (empty before the first start).
    pub async fn channels_config_applied(&self) -> Result<BTreeSet<String>, StoreError> {
        parse_list(self.get_meta(CONFIG_APPLIED_KEY).await?)
    }

    /// Adds and removes channels (names already validated) in one transaction, with one audit
    /// row per actual change. A name both added and removed is refused by the caller.
    pub async fn change_channels(
        &self,
        add: &[String],
        remove: &[String],
        by: ChangedBy,
        at: i64,
    ) -> Result<ChannelChange, StoreError> {
        let txn = self
            .writer
            .begin_with_options(write_txn_options(self.backend))
            .await
            .map_err(self.ctx.at("starting a channel set change"))?;
        let change = self.change_in(&txn, add, remove, by, at).await?;
        txn.commit().await.map_err(self.ctx.at("committing a channel set change"))?;
        Ok(change)
    }

    /// Applies the configuration's list `current` by its difference with the list applied
    /// last, and records `current` as applied, in one transaction. Before the first start
    /// nothing was applied, so the whole list is added: that is the seeding.
    pub async fn apply_config_channels(
        &self,
        current: &BTreeSet<String>,
        at: i64,
    ) -> Result<ChannelChange, StoreError> {
        let backend = self.writer.get_database_backend();
        let txn = self
            .writer
            .begin_with_options(write_txn_options(self.backend))
            .await
            .map_err(self.ctx.at("starting the config channel apply"))?;
        let row = txn
            .query_one_raw(stmt(backend, "SELECT value FROM meta WHERE key = $1", vec![CONFIG_APPLIED_KEY.into()]))
            .await
            .map_err(self.ctx.at("reading the config list applied last"))?;
        let last = parse_list(row.and_then(|r| r.try_get_by_index::<String>(0).ok()))?;
        let (add, remove) = config_diff(&last, current);
        let change = self.change_in(&txn, &add, &remove, ChangedBy::Config, at).await?;
        let applied = serde_json::to_string(current).unwrap_or_else(|_| "[]".into());
        txn.execute_raw(stmt(
            backend,
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            vec![CONFIG_APPLIED_KEY.into(), applied.into()],
        ))
        .await
        .map_err(self.ctx.at("recording the config list applied"))?;
        txn.commit().await.map_err(self.ctx.at("committing the config channel apply"))?;
        Ok(change)
    }

    async fn change_in(
        &self,
        txn: &DatabaseTransaction,
        add: &[String],
        remove: &[String],
        by: ChangedBy,
        at: i64,
    ) -> Result<ChannelChange, StoreError> {
        let backend = self.writer.get_database_backend();
        let err = |what: &'static str| self.ctx.at(what);
        let mut change = ChannelChange::default();
        let audit = |action: &'static str, name: &str| {
            stmt(
                backend,
                "INSERT INTO audit_log (at, action, subject, detail) VALUES ($1, $2, $3, $4)",
                vec![at.into(), action.into(), format!("#{name}").into(), format!("by={}", by.as_str()).into()],
            )
        };
        for name in add {
            let res = txn
                .execute_raw(stmt(
                    backend,
                    "INSERT INTO channels (name, added_at, added_by) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
                    vec![name.as_str().into(), at.into(), by.as_str().into()],
                ))
                .await
                .map_err(err("adding a channel"))?;
            if res.rows_affected() == 1 {
                txn.execute_raw(audit("channel_add", name)).await.map_err(err("auditing a channel add"))?;
                change.added.push(name.clone());
            } else {
                change.unchanged.push(name.clone());
            }
        }
        for name in remove {
            let res = txn
                .execute_raw(stmt(backend, "DELETE FROM channels WHERE name = $1", vec![name.as_str().into()]))
                .await
                .map_err(err("removing a channel"))?;
            if res.rows_affected() >= 1 {
                txn.execute_raw(audit("channel_remove", name)).await.map_err(err("auditing a channel removal"))?;
                change.removed.push(name.clone());
            } else {
                change.unchanged.push(name.clone());
            }
        }
        if !change.added.is_empty() || !change.removed.is_empty() {
            txn.execute_raw(stmt(
                backend,
                "INSERT INTO meta (key, value) VALUES ($1, '1') ON CONFLICT (key) DO UPDATE \
                 SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT)",
                vec![VERSION_KEY.into()],
            ))
            .await
            .map_err(err("counting a channel set change"))?;
        }
        let row = txn
            .query_one_raw(stmt(backend, "SELECT value FROM meta WHERE key = $1", vec![VERSION_KEY.into()]))
            .await
            .map_err(err("reading the channel set version"))?;
        change.version =
            row.and_then(|r| r.try_get_by_index::<String>(0).ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_diff_adds_what_the_config_gained_and_removes_what_it_lost() {
        assert_eq!(config_diff(&set(&[]), &set(&["a", "b"])), (vec!["a".into(), "b".into()], vec![]));
        assert_eq!(config_diff(&set(&["a", "b"]), &set(&["b", "c"])), (vec!["c".into()], vec!["a".into()]));
        assert_eq!(config_diff(&set(&["a"]), &set(&["a"])), (vec![], vec![]));
        assert_eq!(config_diff(&set(&["a"]), &set(&[])), (vec![], vec!["a".into()]));
    }

    #[test]
    fn the_applied_list_is_a_json_array_and_absent_means_empty() {
        assert_eq!(parse_list(None).unwrap(), set(&[]));
        assert_eq!(parse_list(Some(r#"["a","b"]"#.into())).unwrap(), set(&["a", "b"]));
        assert!(parse_list(Some("nope".into())).is_err());
    }
}

//! Writing rows that come from outside chatseal (the old system's database) into a store:
//! users, participation, signals and seals whose roots are kept as they were. Everything of one
//! batch goes in ONE transaction with `ON CONFLICT DO NOTHING`, so an import can be run again.
//! The store checks the rows (hashes, signal kinds, indexes) and computes each seal's digest
//! itself, over exactly the rows it writes; a seal already in the store keeps its rows.

use super::io::{insert_rows, Row};
use super::spec::{row_of, table_spec};
use crate::backend::write_txn_options;
use crate::digest::seal_digest;
use crate::entity::{participation, sealed_epochs, sealed_participants, signals, users};
use crate::error::StoreError;
use crate::keys::hash_to_bytes;
use crate::leaves::{stored, RowFields};
use crate::open::Store;
use crate::queries::channel_ids::ensure_channel_ids;
use crate::rows::{check_hash, check_kind, SealedParticipant};
use sea_orm::{ConnectionTrait, TransactionTrait};

/// A seal imported with its root as it was. It has no claim tree (`claim_root` NULL).
#[derive(Clone, Debug, PartialEq)]
pub struct ImportSeal {
    /// The epoch's start, Unix seconds.
    pub epoch: i64,
    /// The channel, lowercase, without `#`.
    pub channel: String,
    /// 64 lowercase hex; None for an empty seal.
    pub root: Option<String>,
    /// When it was sealed, Unix seconds.
    pub sealed_at: i64,
    /// 1 when the leaves fold to `root` with today's format; 0 (legacy) when they do not.
    pub format_version: i32,
    /// Fraction of the epoch covered, 0..=1 (0 when unknown).
    pub coverage: f64,
    /// In index order, `idx` 0, 1, 2, ...; `amount` and `claim_leaf` as the caller has them.
    pub participants: Vec<SealedParticipant>,
}

/// A `users` row to import, in the store API's form (the hash as 64 lowercase hex).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportUser {
    /// 64 lowercase hex.
    pub user_hash: String,
    /// The login last seen.
    pub login: String,
    /// The Twitch user id last seen, if any.
    pub user_id: Option<String>,
    /// The display name last seen, if any.
    pub display_name: Option<String>,
    /// Unix seconds.
    pub first_seen: i64,
    /// Unix seconds.
    pub last_seen: i64,
}

/// A `participation` row to import (the channel by name, the hash as hex).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportParticipation {
    /// The epoch's start, Unix seconds.
    pub epoch: i64,
    /// The channel, lowercase, without `#`.
    pub channel: String,
    /// 64 lowercase hex.
    pub user_hash: String,
    /// Unix seconds.
    pub first_seen: i64,
    /// Unix seconds.
    pub last_seen: i64,
}

/// A `signals` row to import (the kind by its [`crate::SignalKind::name`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportSignal {
    /// The epoch's start, Unix seconds.
    pub epoch: i64,
    /// The channel, lowercase, without `#`.
    pub channel: String,
    /// 64 lowercase hex.
    pub user_hash: String,
    /// A [`crate::SignalKind::name`].
    pub kind: String,
    /// The sum.
    pub value: i64,
}

/// Rows to import together.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportBatch {
    /// Rows of `users`.
    pub users: Vec<ImportUser>,
    /// Rows of `participation`.
    pub participation: Vec<ImportParticipation>,
    /// Rows of `signals`.
    pub signals: Vec<ImportSignal>,
    /// Seals, each with its participants.
    pub seals: Vec<ImportSeal>,
}

impl ImportBatch {
    /// Rows held, seals counted with their participants.
    pub fn len(&self) -> usize {
        self.users.len()
            + self.participation.len()
            + self.signals.len()
            + self.seals.iter().map(|s| 1 + s.participants.len()).sum::<usize>()
    }

    /// True when the batch holds no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Rows that were new, per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportWritten {
    /// New rows of `users`.
    pub users: u64,
    /// New rows of `participation`.
    pub participation: u64,
    /// New rows of `signals`.
    pub signals: u64,
    /// New seals (`sealed_epochs`).
    pub seals: u64,
    /// New rows of `sealed_participants`.
    pub sealed_participants: u64,
}

impl ImportWritten {
    /// Adds another batch's counts to these.
    pub fn add(&mut self, o: &ImportWritten) {
        self.users += o.users;
        self.participation += o.participation;
        self.signals += o.signals;
        self.seals += o.seals;
        self.sealed_participants += o.sealed_participants;
    }
}

fn invalid(what: &'static str, detail: String) -> StoreError {
    StoreError::Invalid { what, detail }
}

fn check_batch(b: &ImportBatch) -> Result<(), StoreError> {
    for u in &b.users {
        check_hash("imported user_hash", &u.user_hash)?;
    }
    for p in &b.participation {
        check_hash("imported participation user_hash", &p.user_hash)?;
    }
    for s in &b.signals {
        check_hash("imported signal user_hash", &s.user_hash)?;
        check_kind(&s.kind)?;
    }
    for s in &b.seals {
        if let Some(r) = &s.root {
            check_hash("imported seal root", r)?;
        }
        if !(0.0..=1.0).contains(&s.coverage) {
            return Err(invalid("imported seal coverage", format!("{} is outside 0..=1", s.coverage)));
        }
        let mut seen = std::collections::HashSet::with_capacity(s.participants.len());
        for (i, p) in s.participants.iter().enumerate() {
            if !seen.insert(p.user_hash.as_str()) {
                return Err(invalid(
                    "imported seal",
                    format!("epoch {} channel {}: user {} appears twice", s.epoch, s.channel, p.user_hash),
                ));
            }
            if p.idx != i as i64 {
                return Err(invalid(
                    "imported seal participant index",
                    format!("epoch {} channel {}: position {i} holds idx {}", s.epoch, s.channel, p.idx),
                ));
            }
            check_hash("imported sealed participant user_hash", &p.user_hash)?;
            check_hash("imported sealed participant leaf", &p.leaf)?;
            hash_to_bytes("imported sealed participant claim_leaf", &p.claim_leaf)?;
        }
    }
    Ok(())
}

impl Store {
    /// Imports `b` in one transaction (see the module doc); returns what was new.
    pub async fn import_batch(&self, b: &ImportBatch) -> Result<ImportWritten, StoreError> {
        check_batch(b)?;
        let (u, p, s, e) =
            (table_spec("users")?, table_spec("participation")?, table_spec("signals")?, table_spec("sealed_epochs")?);
        let sp = table_spec("sealed_participants")?;
        let seals: Vec<Row> = b
            .seals
            .iter()
            .map(|s| {
                row_of(&sealed_epochs::Model {
                    epoch: s.epoch,
                    channel: s.channel.clone(),
                    root: s.root.clone(),
                    claim_root: None,
                    participants: s.participants.len() as i64,
                    coverage: s.coverage,
                    digest: seal_digest(s.epoch, &s.channel, s.root.as_deref(), None, &s.participants),
                    sealed_at: s.sealed_at,
                    format_version: s.format_version,
                    claim_cut: None,
                })
            })
            .collect();
        let txn = self
            .writer
            .begin_with_options(write_txn_options(self.backend))
            .await
            .map_err(self.ctx.at("starting an import transaction"))?;
        let at = |what: &'static str| self.ctx.at(what);
        let channels = b.seals.iter().filter(|s| !s.participants.is_empty()).map(|s| s.channel.clone());
        let channels = channels.chain(b.participation.iter().map(|p| p.channel.clone()));
        let channels = channels.chain(b.signals.iter().map(|s| s.channel.clone())).collect();
        let ids = ensure_channel_ids(&txn, channels).await.map_err(at("giving a channel its id"))?;
        let id = |c: &str| ids.get(c).copied().unwrap_or_default();
        let hash = |h: &str| hash_to_bytes("imported user_hash", h);
        let mut users = Vec::with_capacity(b.users.len());
        for x in &b.users {
            users.push(row_of(&users::Model {
                user_hash: hash(&x.user_hash)?,
                login: x.login.clone(),
                user_id: x.user_id.clone(),
                display_name: x.display_name.clone(),
                first_seen: x.first_seen,
                last_seen: x.last_seen,
            }));
        }
        let mut parts = Vec::with_capacity(b.participation.len());
        for x in &b.participation {
            parts.push(row_of(&participation::Model {
                epoch: x.epoch,
                channel_id: id(&x.channel),
                user_hash: hash(&x.user_hash)?,
                first_seen: x.first_seen,
                last_seen: x.last_seen,
            }));
        }
        let mut sigs = Vec::with_capacity(b.signals.len());
        for x in &b.signals {
            sigs.push(row_of(&signals::Model {
                epoch: x.epoch,
                channel_id: id(&x.channel),
                user_hash: hash(&x.user_hash)?,
                kind: check_kind(&x.kind)?.code(),
                value: x.value,
            }));
        }
        let users = insert_rows(&txn, &u, &users).await.map_err(at("importing users"))?;
        let parts = insert_rows(&txn, &p, &parts).await.map_err(at("importing participation"))?;
        let sigs = insert_rows(&txn, &s, &sigs).await.map_err(at("importing signals"))?;
        let new_seals = insert_rows(&txn, &e, &seals).await.map_err(at("importing seals"))?;
        // Only the participants of seals written now: a seal the store already held keeps its rows.
        let mut members: Vec<Row> = Vec::new();
        for (s, row) in b.seals.iter().zip(&seals) {
            if !new_seals.contains(&e.key_of(row)) {
                continue;
            }
            let channel_id = id(&s.channel);
            for m in &s.participants {
                let user_hash = hash_to_bytes("imported sealed participant user_hash", &m.user_hash)?;
                let fields = RowFields {
                    epoch: s.epoch,
                    channel: &s.channel,
                    idx: m.idx,
                    user_hash: &user_hash,
                    login: m.login.as_bytes(),
                    amount: m.amount.as_bytes(),
                };
                let (keep_leaf, keep_claim) = stored(&fields, &m.leaf, &m.claim_leaf);
                let leaf = hash_to_bytes("imported sealed participant leaf", &m.leaf)?;
                let claim_leaf = hash_to_bytes("imported sealed participant claim_leaf", &m.claim_leaf)?;
                members.push(row_of(&sealed_participants::Model {
                    epoch: s.epoch,
                    channel_id,
                    user_hash,
                    idx: m.idx,
                    login: m.login.clone(),
                    amount: m.amount.clone(),
                    leaf: keep_leaf.then_some(leaf),
                    claim_leaf: keep_claim.then_some(claim_leaf),
                }));
            }
        }
        let members_new = insert_rows(&txn, &sp, &members).await.map_err(at("importing sealed participants"))?;
        if members_new.len() != members.len() {
            return Err(invalid(
                "imported seal",
                format!(
                    "{} sealed participants were refused by the store (a user twice in one seal?)",
                    members.len() - members_new.len()
                ),
            ));
        }
        txn.commit().await.map_err(at("committing an import"))?;
        Ok(ImportWritten {
            users: users.len() as u64,
            participation: parts.len() as u64,
            signals: sigs.len() as u64,
            seals: new_seals.len() as u64,
            sealed_participants: members_new.len() as u64,
        })
    }
}

impl Store {
    /// Participation rows whose user has no users row (no login): the sealer cannot seal
    /// their (epoch, channel) until one exists.
    pub async fn participation_without_login(&self) -> Result<u64, StoreError> {
        let what = "counting participants without a login";
        let sql = "SELECT COUNT(*) FROM participation p WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.user_hash = p.user_hash)";
        let backend = self.reader.get_database_backend();
        let row =
            self.reader.query_one_raw(crate::queries::stmt(backend, sql, vec![])).await.map_err(self.ctx.at(what))?;
        let n = match row {
            Some(r) => r.try_get_by_index::<i64>(0).map_err(self.ctx.at(what))?,
            None => 0,
        };
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

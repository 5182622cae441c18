//! Salvage: after a damaged SQLite store was moved aside and a backup restored, merge into the
//! restored store what the damaged file still holds of the data that is not sealed yet
//! (users, participation, signals, seen message ids, coverage, opt-outs). Rows are read by
//! rowid ranges through a read-only connection; a range SQLite cannot read is skipped and
//! reported, the rest goes on. A table of the compact layout (`crate::layout`, `WITHOUT ROWID`:
//! `users`, `participation`, `signals`) is read in pages of its primary key instead, in the
//! store API's text form; a page that cannot be read skips the rest of its epoch (of the
//! table, for `users`) and is reported. Every row is written with a merge that is idempotent (the
//! store's own upserts; signal sums take the larger value, since the damaged file is a later
//! state of the same store), so nothing is counted twice whatever the backup already held.
//! Sealed rows are never taken from the damaged file, nor rows of (epoch, channel)s sealed
//! in the restored store: the sealer re-seals the rest from participation.

use crate::backend::write_txn_options;
use crate::error::{ErrCtx, StoreError};
use crate::keys::hash_to_bytes;
use crate::open::Store;
use crate::queries::channel_ids::ensure_channel_id;
use crate::queries::flush::{UPSERT_COVERAGE, UPSERT_PARTICIPATION, UPSERT_USERS};
use crate::queries::{placeholders, rows_per_chunk, stmt, values_list};
use crate::redact::Scrubber;
use crate::signals::SignalKind;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, QueryResult, TransactionTrait, Value};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// Rows read per statement from the damaged file.
const BATCH: i64 = 1_000;

const MAX_SIGNALS: &str = " ON CONFLICT (epoch, channel_id, user_hash, kind) DO UPDATE SET \
     value = CASE WHEN excluded.value > signals.value THEN excluded.value ELSE signals.value END";

#[derive(Clone, Copy)]
enum Col {
    Int,
    Text,
    OptText,
    /// A message id: text in a file of the layout before m20261210_000012, its key's bytes
    /// after it (`crate::message_keys`).
    MessageId,
}

struct Spec {
    table: &'static str,
    cols: &'static [(&'static str, Col)],
    /// Rows carry (epoch, channel) in their first two columns.
    epoch_keyed: bool,
    tail: &'static str,
}

const SPECS: [Spec; 6] = [
    Spec {
        table: "users",
        cols: &[
            ("user_hash", Col::Text),
            ("login", Col::Text),
            ("user_id", Col::OptText),
            ("display_name", Col::OptText),
            ("first_seen", Col::Int),
            ("last_seen", Col::Int),
        ],
        epoch_keyed: false,
        tail: UPSERT_USERS,
    },
    Spec {
        table: "participation",
        cols: &[
            ("epoch", Col::Int),
            ("channel", Col::Text),
            ("user_hash", Col::Text),
            ("first_seen", Col::Int),
            ("last_seen", Col::Int),
        ],
        epoch_keyed: true,
        tail: UPSERT_PARTICIPATION,
    },
    Spec {
        table: "signals",
        cols: &[
            ("epoch", Col::Int),
            ("channel", Col::Text),
            ("user_hash", Col::Text),
            ("kind", Col::Text),
            ("value", Col::Int),
        ],
        epoch_keyed: true,
        tail: MAX_SIGNALS,
    },
    Spec {
        table: "seen_ids",
        cols: &[("epoch", Col::Int), ("channel", Col::Text), ("id", Col::MessageId)],
        epoch_keyed: true,
        tail: " ON CONFLICT (id) DO NOTHING",
    },
    Spec {
        table: "coverage",
        cols: &[("channel", Col::Text), ("started_ms", Col::Int), ("until_ms", Col::Int)],
        epoch_keyed: false,
        tail: UPSERT_COVERAGE,
    },
    Spec {
        table: "opt_outs",
        cols: &[("user_hash", Col::Text), ("login", Col::Text), ("created_at", Col::Int), ("reason", Col::Text)],
        epoch_keyed: false,
        tail: " ON CONFLICT (user_hash) DO NOTHING",
    },
];

/// What a salvage merged and what it could not read.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SalvageReport {
    /// Rows read from the damaged file and merged, by table.
    pub merged: BTreeMap<String, u64>,
    /// Rows left out because their (epoch, channel) is sealed in the restored store or older
    /// than what it still has open.
    pub sealed_or_older: u64,
    /// What could not be read (a rowid range of a table, a whole table, the file itself).
    pub unreadable: Vec<String>,
}

/// Which (epoch, channel) rows of the damaged file may be merged.
struct Filter {
    from_epoch: i64,
    sealed: HashSet<(i64, String)>,
}

impl Filter {
    fn admits(&self, epoch: i64, channel: &str) -> bool {
        epoch >= self.from_epoch && !self.sealed.contains(&(epoch, channel.to_owned()))
    }
}

fn value_of(r: &QueryResult, i: usize, col: Col) -> Result<Value, sea_orm::DbErr> {
    Ok(match col {
        Col::Int => r.try_get_by_index::<i64>(i)?.into(),
        Col::Text => r.try_get_by_index::<String>(i)?.into(),
        Col::OptText => r.try_get_by_index::<Option<String>>(i)?.into(),
        Col::MessageId => match r.try_get_by_index::<String>(i) {
            Ok(text) => text.into(),
            Err(_) => Value::Bytes(Some(r.try_get_by_index::<Vec<u8>>(i)?)),
        },
    })
}

/// The rows of a page decoded by `spec`'s columns (from result column `first` on), without
/// those `filter` does not admit (counted in `report`, as the rows that cannot be decoded).
fn decode_rows(
    spec: &Spec,
    rows: &[QueryResult],
    first: usize,
    filter: &Filter,
    report: &mut SalvageReport,
) -> Vec<Vec<Value>> {
    let mut keep: Vec<Vec<Value>> = Vec::with_capacity(rows.len());
    for r in rows {
        let decoded: Result<Vec<Value>, _> =
            spec.cols.iter().enumerate().map(|(i, (_, c))| value_of(r, i + first, *c)).collect();
        match decoded {
            Ok(v) => {
                if spec.epoch_keyed {
                    let (Value::BigInt(Some(e)), Value::String(Some(c))) = (&v[0], &v[1]) else { continue };
                    if !filter.admits(*e, c) {
                        report.sealed_or_older += 1;
                        continue;
                    }
                }
                keep.push(v);
            }
            Err(e) => report.unreadable.push(format!("a row of {}: {e}", spec.table)),
        }
    }
    keep
}

/// How a compact table of the damaged file is read in the old text form: the select list (in
/// the order of its [`Spec`]'s columns), the FROM clause (table `t`) and the primary key.
struct CompactRead {
    select: String,
    from: &'static str,
    key: &'static [&'static str],
}

fn compact_read(table: &str) -> Option<CompactRead> {
    let (select, from, key): (String, &'static str, &'static [&'static str]) = match table {
        "users" => (
            "lower(hex(t.user_hash)), t.login, t.user_id, t.display_name, t.first_seen, t.last_seen".into(),
            "users t",
            &["t.user_hash"],
        ),
        "participation" => (
            "t.epoch, c.name, lower(hex(t.user_hash)), t.first_seen, t.last_seen".into(),
            "participation t JOIN channel_ids c ON c.id = t.channel_id",
            &["t.epoch", "t.channel_id", "t.user_hash"],
        ),
        "signals" => (
            format!("t.epoch, c.name, lower(hex(t.user_hash)), {}, t.value", crate::layout::kind_name_sql("t.kind")),
            "signals t JOIN channel_ids c ON c.id = t.channel_id",
            &["t.epoch", "t.channel_id", "t.user_hash", "t.kind"],
        ),
        "seen_ids" => {
            ("t.epoch, c.name, t.id".into(), "seen_ids t JOIN channel_ids c ON c.id = t.channel_id", &["t.id"])
        }
        _ => return None,
    };
    Some(CompactRead { select, from, key })
}

/// A raw key column of a compact table as a bind value.
fn key_value(r: &QueryResult, i: usize, col: &str) -> Result<Value, sea_orm::DbErr> {
    Ok(match col {
        "t.user_hash" | "t.id" => Value::Bytes(Some(r.try_get_by_index::<Vec<u8>>(i)?)),
        "t.epoch" => Value::BigInt(Some(r.try_get_by_index::<i64>(i)?)),
        _ => Value::Int(Some(r.try_get_by_index::<i32>(i)?)),
    })
}

/// Rows of `users`, `participation`, `signals` or `seen_ids` in the text form, as the compact
/// layout stores them: hashes as bytes, channels as ids (given now where needed), kinds as
/// codes, message ids as their keys (a key read as bytes goes through as it is).
/// A row whose hash or kind the layout cannot hold is dropped (it cannot be a row chatseal
/// wrote).
async fn to_compact(
    txn: &sea_orm::DatabaseTransaction,
    names: &[&str],
    rows: &[Vec<Value>],
) -> Result<(Vec<String>, Vec<Vec<Value>>), sea_orm::DbErr> {
    let mut out = Vec::with_capacity(rows.len());
    'rows: for row in rows {
        let mut new = Vec::with_capacity(row.len());
        for (name, v) in names.iter().zip(row) {
            let text = match v {
                Value::String(Some(t)) => Some(t.as_str()),
                _ => None,
            };
            new.push(match (*name, text) {
                ("user_hash", Some(h)) => match hash_to_bytes("salvaged user_hash", h) {
                    Ok(b) if b.len() == crate::keys::HASH_BYTES => Value::Bytes(Some(b)),
                    _ => continue 'rows,
                },
                ("channel", Some(c)) => Value::Int(Some(ensure_channel_id(txn, c).await?)),
                ("id", Some(m)) => Value::Bytes(Some(crate::message_keys::SeenKey::of_text(m).into_bytes())),
                ("kind", Some(k)) => match SignalKind::from_name(k) {
                    Some(k) => Value::Int(Some(k.code())),
                    None => continue 'rows,
                },
                _ => v.clone(),
            });
        }
        out.push(new);
    }
    let names = names.iter().map(|n| if *n == "channel" { "channel_id".to_owned() } else { (*n).to_owned() }).collect();
    Ok((names, out))
}

impl Store {
    /// Merges what `damaged` (a SQLite file, with its `-wal` beside it if any, in a directory
    /// SQLite may create a `-shm` in: pass a scratch copy, not the quarantined original) still
    /// holds of unsealed data into this store. Errors only when writing into this store fails;
    /// what cannot be read is listed in the report.
    pub async fn salvage_from(&self, damaged: &Path) -> Result<SalvageReport, StoreError> {
        let mut report = SalvageReport::default();
        let url = format!("sqlite://{}", damaged.display());
        let ctx = ErrCtx { url: url.clone(), scrubber: Scrubber::for_url(&url), sqlite: true };
        let mut o = ConnectOptions::new(url);
        o.max_connections(1)
            .min_connections(0)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|s| s.read_only(true).create_if_missing(false));
        let src = match Database::connect(o).await {
            Ok(db) => db,
            Err(e) => {
                report.unreadable.push(format!("the damaged file cannot be opened: {}", ctx.db("opening", e)));
                return Ok(report);
            }
        };
        let filter = self.salvage_filter().await?;
        for spec in &SPECS {
            if let Err(what) = self.salvage_table(&src, spec, &filter, &mut report).await? {
                report.unreadable.push(what);
            }
        }
        let _ = src.close_by_ref().await;
        Ok(report)
    }

    /// Rows of epochs before the oldest one this store has open (or after its newest seal,
    /// when all are sealed) are history the backup already holds, sealed.
    async fn salvage_filter(&self) -> Result<Filter, StoreError> {
        let newest_sealed = self.last_sealed_epoch().await?;
        let oldest_open = self.unsealed_participation_epochs(i64::MAX).await?.first().map(|(e, _)| *e);
        let from_epoch = match (oldest_open, newest_sealed) {
            (Some(o), Some(s)) => o.min(s.saturating_add(1)),
            (None, Some(s)) => s.saturating_add(1),
            (_, None) => i64::MIN,
        };
        let what = "listing sealed epochs for a salvage";
        let rows = self
            .reader
            .query_all_raw(stmt(
                self.reader.get_database_backend(),
                "SELECT epoch, channel FROM sealed_epochs WHERE epoch >= $1",
                vec![from_epoch.into()],
            ))
            .await
            .map_err(self.ctx.at(what))?;
        let mut sealed = HashSet::with_capacity(rows.len());
        for r in rows {
            sealed.insert((
                r.try_get_by_index::<i64>(0).map_err(self.ctx.at(what))?,
                r.try_get_by_index::<String>(1).map_err(self.ctx.at(what))?,
            ));
        }
        Ok(Filter { from_epoch, sealed })
    }

    /// Copies one table; the inner `Err` names what of it could not be read at all.
    async fn salvage_table(
        &self,
        src: &DatabaseConnection,
        spec: &Spec,
        filter: &Filter,
        report: &mut SalvageReport,
    ) -> Result<Result<(), String>, StoreError> {
        let backend = src.get_database_backend();
        if let Some(read) = compact_read(spec.table) {
            let probe = format!("SELECT COUNT(*) FROM pragma_table_info('{}') WHERE name = 'channel_id' OR (name = 'user_hash' AND type = 'BLOB')", spec.table);
            let compact = src
                .query_one_raw(stmt(backend, probe, vec![]))
                .await
                .and_then(|r| r.map(|r| r.try_get_by_index::<i64>(0)).transpose());
            match compact {
                Ok(Some(n)) if n > 0 => return self.salvage_compact(src, spec, &read, filter, report).await,
                Ok(_) => {}
                Err(e) => return Ok(Err(format!("table {}: {e}", spec.table))),
            }
        }
        let bounds = src
            .query_one_raw(stmt(backend, format!("SELECT MIN(rowid), MAX(rowid) FROM {}", spec.table), vec![]))
            .await
            .and_then(|r| match r {
                Some(r) => Ok((r.try_get_by_index::<Option<i64>>(0)?, r.try_get_by_index::<Option<i64>>(1)?)),
                None => Ok((None, None)),
            });
        let (lo, hi) = match bounds {
            Ok((Some(lo), Some(hi))) => (lo, hi),
            Ok(_) => return Ok(Ok(())),
            Err(e) => return Ok(Err(format!("table {}: {e}", spec.table))),
        };
        let names: Vec<&str> = spec.cols.iter().map(|(n, _)| *n).collect();
        let sql = format!(
            "SELECT rowid, {} FROM {} WHERE rowid >= $1 AND rowid <= $2 ORDER BY rowid LIMIT {BATCH}",
            names.join(", "),
            spec.table
        );
        let mut at = lo;
        while at <= hi {
            let rows = match src.query_all_raw(stmt(backend, sql.clone(), vec![at.into(), hi.into()])).await {
                Ok(rows) => rows,
                Err(e) => {
                    report.unreadable.push(format!(
                        "table {} rowids {at}..{}: {e}",
                        spec.table,
                        at.saturating_add(BATCH - 1)
                    ));
                    at = at.saturating_add(BATCH);
                    continue;
                }
            };
            let Some(last) = rows.last() else { break };
            let next = match last.try_get_by_index::<i64>(0) {
                Ok(r) => r.saturating_add(1),
                Err(e) => {
                    report.unreadable.push(format!("table {} rowids from {at}: {e}", spec.table));
                    at.saturating_add(BATCH)
                }
            };
            let keep = decode_rows(spec, &rows, 1, filter, report);
            self.merge_rows(spec, &names, &keep).await?;
            *report.merged.entry(spec.table.to_owned()).or_default() += keep.len() as u64;
            at = next;
        }
        Ok(Ok(()))
    }

    /// Copies one table of the compact layout, in pages of its primary key (see the module doc).
    async fn salvage_compact(
        &self,
        src: &DatabaseConnection,
        spec: &Spec,
        read: &CompactRead,
        filter: &Filter,
        report: &mut SalvageReport,
    ) -> Result<Result<(), String>, StoreError> {
        let backend = src.get_database_backend();
        let names: Vec<&str> = spec.cols.iter().map(|(n, _)| *n).collect();
        let key = read.key.join(", ");
        let mut after: Option<Vec<Value>> = None;
        loop {
            let (filter_sql, values) = match &after {
                Some(k) => (format!(" WHERE ({key}) > ({})", placeholders(backend, 1, k.len())), k.clone()),
                None => (String::new(), Vec::new()),
            };
            let sql =
                format!("SELECT {}, {key} FROM {}{filter_sql} ORDER BY {key} LIMIT {BATCH}", read.select, read.from);
            let rows = match src.query_all_raw(stmt(backend, sql, values)).await {
                Ok(rows) => rows,
                Err(e) => {
                    let from =
                        after.as_ref().map(|k| format!(" after key {}", crate::copy::show(&k[0]))).unwrap_or_default();
                    report.unreadable.push(format!("table {}{from}: {e}", spec.table));
                    // Skip the rest of the epoch (the table, when it is not keyed by epoch).
                    match after.as_ref().and_then(|k| match (spec.epoch_keyed, &k[0]) {
                        (true, Value::BigInt(Some(e))) => Some(*e),
                        _ => None,
                    }) {
                        Some(e) => {
                            let mut next = vec![
                                Value::BigInt(Some(e)),
                                Value::Int(Some(i32::MAX)),
                                Value::Bytes(Some(vec![0xff; 33])),
                            ];
                            next.truncate(read.key.len());
                            next.extend((next.len()..read.key.len()).map(|_| Value::Int(Some(i32::MAX))));
                            after = Some(next);
                            continue;
                        }
                        None => return Ok(Ok(())),
                    }
                }
            };
            let Some(last) = rows.last() else { return Ok(Ok(())) };
            let n = names.len();
            let next: Result<Vec<Value>, _> =
                read.key.iter().enumerate().map(|(i, c)| key_value(last, n + i, c)).collect();
            let next = match next {
                Ok(k) => k,
                Err(e) => return Ok(Err(format!("table {}: {e}", spec.table))),
            };
            let keep = decode_rows(spec, &rows, 0, filter, report);
            self.merge_rows(spec, &names, &keep).await?;
            *report.merged.entry(spec.table.to_owned()).or_default() += keep.len() as u64;
            after = Some(next);
        }
    }

    async fn merge_rows(&self, spec: &Spec, names: &[&str], rows: &[Vec<Value>]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let what = format!("merging salvaged {} rows", spec.table);
        let backend = self.writer.get_database_backend();
        let txn = self.writer.begin_with_options(write_txn_options(self.backend)).await.map_err(self.ctx.at(&what))?;
        let (names, rows) = if compact_read(spec.table).is_some() {
            to_compact(&txn, names, rows).await.map_err(self.ctx.at(&what))?
        } else {
            (names.iter().map(|n| (*n).to_owned()).collect(), rows.to_vec())
        };
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        for chunk in rows.chunks(rows_per_chunk(names.len())) {
            let sql = format!(
                "INSERT INTO {} ({}) VALUES {}{}",
                spec.table,
                names.join(", "),
                values_list(backend, chunk.len(), names.len()),
                spec.tail
            );
            let values = chunk.iter().flatten().cloned().collect();
            txn.execute_raw(stmt(backend, sql, values)).await.map_err(self.ctx.at(&what))?;
        }
        txn.commit().await.map_err(self.ctx.at(&what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::{CoverageSpan, ParticipationDelta, SeenId};

    fn delta(login: char, messages: i64) -> ParticipationDelta<'static> {
        let hex: String = std::iter::repeat_n(login, 64).collect();
        ParticipationDelta {
            epoch: 3600,
            channel: "alpha".into(),
            user_hash: crate::keys::hash_from_hex("test", &hex).unwrap(),
            login: login.to_string().into(),
            user_id: None,
            display_name: None,
            first_seen: 3600,
            last_seen: 3601,
            signals: crate::Signals::default().with(crate::SignalKind::Message, messages),
        }
    }

    async fn flush(store: &Store, deltas: &[ParticipationDelta<'_>], id: &str) {
        let tx = store.begin_flush().await.unwrap();
        tx.insert_seen_ids(&[SeenId { id: id.into(), epoch: 3600, channel: "alpha".into() }]).await.unwrap();
        tx.upsert_participation(deltas).await.unwrap();
        tx.upsert_coverage(&[CoverageSpan { channel: "alpha".into(), started_ms: 3_600_000, until_ms: 3_601_000 }])
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    async fn messages(store: &Store) -> Vec<(String, i64)> {
        store
            .participants_for_seal(3600, "alpha")
            .await
            .unwrap()
            .into_iter()
            .map(|p| (p.login, p.signals[crate::SignalKind::Message]))
            .collect()
    }

    #[tokio::test]
    async fn merges_a_later_state_once_whatever_the_backup_already_held() {
        let dir = tempfile::tempdir().unwrap();
        let (backup_path, later_path) = (dir.path().join("backup.db"), dir.path().join("later.db"));
        // The later state: a has 5 messages (2 of them already in the backup), b is new.
        let later = Store::open(&format!("sqlite://{}", later_path.display())).await.unwrap();
        flush(&later, &[delta('a', 2)], "x").await;
        later.vacuum_into(&backup_path).await.unwrap();
        flush(&later, &[delta('a', 3), delta('b', 1)], "y").await;
        later.checkpoint().await.unwrap();
        later.close().await.unwrap();

        let restored = Store::open(&format!("sqlite://{}", backup_path.display())).await.unwrap();
        assert_eq!(messages(&restored).await, [("a".to_string(), 2)]);
        let first = restored.salvage_from(&later_path).await.unwrap();
        assert!(first.unreadable.is_empty(), "{first:?}");
        assert_eq!((first.merged["participation"], first.merged["signals"], first.merged["seen_ids"]), (2, 2, 2));
        let again = restored.salvage_from(&later_path).await.unwrap();
        assert_eq!(again, first, "a second salvage reads the same rows");
        let mut got = messages(&restored).await;
        got.sort();
        assert_eq!(got, [("a".to_string(), 5), ("b".to_string(), 1)], "merged once, never added twice");
        let tx = restored.begin_flush().await.unwrap();
        let fresh =
            tx.insert_seen_ids(&[SeenId { id: "y".into(), epoch: 3600, channel: "alpha".into() }]).await.unwrap();
        assert_eq!(fresh, [false], "the later state's message ids are known: no line counts twice");
        tx.rollback().await.unwrap();
    }

    #[tokio::test]
    async fn an_unreadable_file_is_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}", dir.path().join("s.db").display())).await.unwrap();
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, vec![0x5au8; 8192]).unwrap();
        let r = store.salvage_from(&junk).await.unwrap();
        assert!(r.merged.is_empty() && !r.unreadable.is_empty(), "{r:?}");
    }
}

//! What the sealer and the status pages read about unsealed data: the participants of an
//! (epoch, channel) with their signal sums, which channels took part in an epoch, which past
//! (epoch, channel)s are still unsealed, and the coverage spans. All on the read connections.

use super::stmt;
use crate::error::StoreError;
use crate::keys::hash_from_bytes;
use crate::open::Store;
use crate::rows::{CoverageSpan, ParticipantRow};
use crate::signals::{SignalKind, Signals};
use sea_orm::{ConnectionTrait, QueryResult, Value};
use std::collections::HashMap;

// Participants with their login, in leaf order. Signals are read by a second index range scan
// and summed in Rust: a join would leave the plan to the planner's statistics, and on a fresh
// PostgreSQL table (never analyzed) it picks a nested loop that takes minutes for 10,000 rows.
// The channel is bound by name and looked up by its id (`channel_ids`) in the statement; a
// hash is 32 bytes, whose byte order is the order of its hex text.
const PARTICIPANTS_SQL: &str = "SELECT p.user_hash, u.login, p.first_seen, p.last_seen \
     FROM participation p LEFT JOIN users u ON u.user_hash = p.user_hash \
     WHERE p.epoch = $1 AND p.channel_id = (SELECT id FROM channel_ids WHERE name = $2) \
     ORDER BY p.first_seen ASC, p.user_hash ASC";

const SIGNALS_SQL: &str = "SELECT user_hash, kind, value FROM signals \
     WHERE epoch = $1 AND channel_id = (SELECT id FROM channel_ids WHERE name = $2)";

// The same two reads as ONE aggregated text each (fields split by ASCII US, records by RS),
// which the driver hands over as one value instead of a row per participant: the per-row cost
// was most of a seal's read. Order is restored in Rust. A text that does not parse into the
// counted records (a NULL login drops its record; a field may hold a separator) sends the
// seal to the row-by-row read above, which reports or handles it exactly. Hashes go into the
// text as lowercase hex, kinds as their codes.
const PARTICIPANTS_AGG_SQLITE: &str = "SELECT COUNT(*), group_concat(lower(hex(p.user_hash)) || char(31) || u.login \
     || char(31) || CAST(p.first_seen AS TEXT) || char(31) || CAST(p.last_seen AS TEXT), char(30)) \
     FROM participation p LEFT JOIN users u ON u.user_hash = p.user_hash \
     WHERE p.epoch = $1 AND p.channel_id = (SELECT id FROM channel_ids WHERE name = $2)";
const PARTICIPANTS_AGG_PG: &str = "SELECT COUNT(*), string_agg(encode(p.user_hash, 'hex') || chr(31) || u.login \
     || chr(31) || CAST(p.first_seen AS TEXT) || chr(31) || CAST(p.last_seen AS TEXT), chr(30)) \
     FROM participation p LEFT JOIN users u ON u.user_hash = p.user_hash \
     WHERE p.epoch = $1 AND p.channel_id = (SELECT id FROM channel_ids WHERE name = $2)";
const SIGNALS_AGG_SQLITE: &str = "SELECT COUNT(*), group_concat(lower(hex(user_hash)) || char(31) \
     || CAST(kind AS TEXT) || char(31) || CAST(value AS TEXT), char(30)) \
     FROM signals WHERE epoch = $1 AND channel_id = (SELECT id FROM channel_ids WHERE name = $2)";
const SIGNALS_AGG_PG: &str = "SELECT COUNT(*), string_agg(encode(user_hash, 'hex') || chr(31) \
     || CAST(kind AS TEXT) || chr(31) || CAST(value AS TEXT), chr(30)) \
     FROM signals WHERE epoch = $1 AND channel_id = (SELECT id FROM channel_ids WHERE name = $2)";

const US: char = '\u{1f}';
const RS: char = '\u{1e}';

/// The records of an aggregated text, each split into exactly `fields` fields, or None when
/// they are not `count` such records.
fn split_agg(text: Option<&str>, count: i64, fields: usize) -> Option<Vec<Vec<&str>>> {
    let Some(text) = text else { return (count == 0).then(Vec::new) };
    let recs: Vec<Vec<&str>> = text.split(RS).map(|r| r.split(US).collect()).collect();
    (recs.len() as i64 == count && recs.iter().all(|r| r.len() == fields)).then_some(recs)
}

/// Signal sums per user from `(user_hash, kind, value)` rows of the `signals` table (the one
/// place its `kind` column, a [`SignalKind::code`], becomes a [`Signals`] slot); unknown kinds
/// are skipped with a warning, sums saturate (a hostile bits tag must not overflow).
fn sum_signals<'a>(
    epoch: i64,
    channel: &str,
    signals: impl Iterator<Item = (&'a str, i32, i64)>,
) -> HashMap<&'a str, Signals<i64>> {
    let mut sums: HashMap<&str, Signals<i64>> = HashMap::new();
    for (user, kind, value) in signals {
        match SignalKind::from_code(kind) {
            Some(k) => {
                let s = &mut sums.entry(user).or_default()[k];
                *s = s.saturating_add(value);
            }
            None => tracing::warn!(epoch, channel, kind = %kind, "ignoring a signal of unknown kind"),
        }
    }
    sums
}

/// The participants from the two aggregated texts, in leaf order, or None (see above).
fn participants_from_agg(
    epoch: i64,
    channel: &str,
    parts: (i64, Option<&str>),
    signals: (i64, Option<&str>),
) -> Option<Vec<ParticipantRow>> {
    let sig = split_agg(signals.1, signals.0, 3)?;
    let mut parsed = Vec::with_capacity(sig.len());
    for r in &sig {
        parsed.push((r[0], r[1].parse::<i32>().ok()?, r[2].parse::<i64>().ok()?));
    }
    let sums = sum_signals(epoch, channel, parsed.into_iter());
    let recs = split_agg(parts.1, parts.0, 4)?;
    let mut out = Vec::with_capacity(recs.len());
    for r in recs {
        out.push(ParticipantRow {
            user_hash: r[0].to_owned(),
            login: r[1].to_owned(),
            first_seen: r[2].parse().ok()?,
            last_seen: r[3].parse().ok()?,
            signals: sums.get(r[0]).copied().unwrap_or_default(),
        });
    }
    out.sort_unstable_by(|a, b| a.first_seen.cmp(&b.first_seen).then_with(|| a.user_hash.cmp(&b.user_hash)));
    Some(out)
}

// Distinct (epoch, channel_id) below $1 by a loose index scan over participation's primary key
// (each step is a few index seeks, not a scan of every participant), named by `channel_ids`,
// minus the sealed ones.
const UNSEALED_SQL: &str = "WITH RECURSIVE k(epoch, channel_id) AS ( \
       SELECT m, (SELECT MIN(q.channel_id) FROM participation q WHERE q.epoch = m) \
         FROM (SELECT MIN(epoch) AS m FROM participation WHERE epoch < $1) AS first_key WHERE m IS NOT NULL \
       UNION ALL \
       SELECT COALESCE( \
                (SELECT MIN(q.epoch) FROM participation q WHERE q.epoch = k.epoch AND q.channel_id > k.channel_id), \
                (SELECT MIN(q.epoch) FROM participation q WHERE q.epoch > k.epoch AND q.epoch < $1)), \
              COALESCE( \
                (SELECT MIN(q.channel_id) FROM participation q WHERE q.epoch = k.epoch AND q.channel_id > k.channel_id), \
                (SELECT MIN(q.channel_id) FROM participation q WHERE q.epoch = \
                   (SELECT MIN(r.epoch) FROM participation r WHERE r.epoch > k.epoch AND r.epoch < $1))) \
         FROM k WHERE k.epoch IS NOT NULL) \
     SELECT k.epoch, c.name FROM k JOIN channel_ids c ON c.id = k.channel_id \
     WHERE k.epoch IS NOT NULL AND NOT EXISTS \
       (SELECT 1 FROM sealed_epochs s WHERE s.epoch = k.epoch AND s.channel = c.name) \
     ORDER BY k.epoch, c.name";

impl Store {
    async fn read_all(&self, what: &str, sql: &str, values: Vec<Value>) -> Result<Vec<QueryResult>, StoreError> {
        self.reader
            .query_all_raw(stmt(self.reader.get_database_backend(), sql, values))
            .await
            .map_err(self.ctx.at(what))
    }

    /// The participants of an unsealed (epoch, channel) in leaf order (first_seen, then
    /// user_hash), each with its login and signal sums. A participant without a users row
    /// means the store lost part of a flush: reported as corrupt, never sealed without a name.
    pub async fn participants_for_seal(&self, epoch: i64, channel: &str) -> Result<Vec<ParticipantRow>, StoreError> {
        let what = "reading participants to seal";
        let (parts_sql, signals_sql) = match self.backend {
            crate::backend::Backend::Sqlite => (PARTICIPANTS_AGG_SQLITE, SIGNALS_AGG_SQLITE),
            _ => (PARTICIPANTS_AGG_PG, SIGNALS_AGG_PG),
        };
        let agg = |sql| async move {
            let rows = self.read_all(what, sql, vec![epoch.into(), channel.into()]).await?;
            match rows.first() {
                Some(r) => Ok::<_, StoreError>((
                    r.try_get_by_index::<i64>(0).map_err(self.ctx.at(what))?,
                    r.try_get_by_index::<Option<String>>(1).map_err(self.ctx.at(what))?,
                )),
                None => Ok((0, None)),
            }
        };
        let parts = agg(parts_sql).await?;
        let signals = agg(signals_sql).await?;
        if let Some(rows) =
            participants_from_agg(epoch, channel, (parts.0, parts.1.as_deref()), (signals.0, signals.1.as_deref()))
        {
            return Ok(rows);
        }
        self.participants_for_seal_by_rows(epoch, channel).await
    }

    /// [`Store::participants_for_seal`] row by row: the exact read, for what the aggregated
    /// texts cannot carry (a participant without a users row is reported here).
    async fn participants_for_seal_by_rows(
        &self,
        epoch: i64,
        channel: &str,
    ) -> Result<Vec<ParticipantRow>, StoreError> {
        let what = "reading participants to seal";
        let signal_rows = self.read_all(what, SIGNALS_SQL, vec![epoch.into(), channel.into()]).await?;
        let mut triples = Vec::with_capacity(signal_rows.len());
        for r in &signal_rows {
            let user = hash_from_bytes(&r.try_get_by_index::<Vec<u8>>(0).map_err(self.ctx.at(what))?);
            let kind: i32 = r.try_get_by_index(1).map_err(self.ctx.at(what))?;
            let value: i64 = r.try_get_by_index(2).map_err(self.ctx.at(what))?;
            triples.push((user, kind, value));
        }
        let mut sums = sum_signals(epoch, channel, triples.iter().map(|(u, k, v)| (u.as_str(), *k, *v)));
        let rows = self.read_all(what, PARTICIPANTS_SQL, vec![epoch.into(), channel.into()]).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let num = |i| r.try_get_by_index::<i64>(i).map_err(self.ctx.at(what));
            let user_hash = hash_from_bytes(&r.try_get_by_index::<Vec<u8>>(0).map_err(self.ctx.at(what))?);
            let login: Option<String> = r.try_get_by_index(1).map_err(self.ctx.at(what))?;
            let Some(login) = login else {
                return Err(self.ctx.corrupt(
                    what,
                    format!("participant {user_hash} of epoch {epoch} channel {channel} has no users row"),
                ));
            };
            let signals = sums.remove(user_hash.as_str()).unwrap_or_default();
            out.push(ParticipantRow { user_hash, login, first_seen: num(2)?, last_seen: num(3)?, signals });
        }
        Ok(out)
    }

    /// The channels with at least one participant in `epoch`, sorted.
    pub async fn channels_with_participation(&self, epoch: i64) -> Result<Vec<String>, StoreError> {
        let what = "listing channels of an epoch";
        let sql = "SELECT c.name FROM channel_ids c \
                   WHERE EXISTS (SELECT 1 FROM participation p WHERE p.epoch = $1 AND p.channel_id = c.id) ORDER BY c.name";
        self.read_all(what, sql, vec![epoch.into()])
            .await?
            .into_iter()
            .map(|r| r.try_get_by_index::<String>(0).map_err(self.ctx.at(what)))
            .collect()
    }

    /// (epoch, channel)s before `before_epoch` that have participation but no seal, oldest
    /// first: what a restart must still seal.
    pub async fn unsealed_participation_epochs(&self, before_epoch: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let what = "listing unsealed epochs";
        self.read_all(what, UNSEALED_SQL, vec![before_epoch.into()])
            .await?
            .into_iter()
            .map(|r| {
                Ok((
                    r.try_get_by_index::<i64>(0).map_err(self.ctx.at(what))?,
                    r.try_get_by_index::<String>(1).map_err(self.ctx.at(what))?,
                ))
            })
            .collect()
    }

    /// Joined intervals overlapping `[from_ms, to_ms)`, of one channel or all, ordered by
    /// channel then start.
    pub async fn coverage_spans(
        &self,
        channel: Option<&str>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<CoverageSpan>, StoreError> {
        let what = "reading coverage";
        let (sql, values): (&str, Vec<Value>) = match channel {
            Some(c) => (
                "SELECT channel, started_ms, until_ms FROM coverage \
                 WHERE channel = $3 AND started_ms < $2 AND until_ms > $1 ORDER BY channel, started_ms",
                vec![from_ms.into(), to_ms.into(), c.into()],
            ),
            None => (
                "SELECT channel, started_ms, until_ms FROM coverage \
                 WHERE started_ms < $2 AND until_ms > $1 ORDER BY channel, started_ms",
                vec![from_ms.into(), to_ms.into()],
            ),
        };
        self.read_all(what, sql, values)
            .await?
            .into_iter()
            .map(|r| {
                Ok(CoverageSpan {
                    channel: r.try_get_by_index(0).map_err(self.ctx.at(what))?,
                    started_ms: r.try_get_by_index(1).map_err(self.ctx.at(what))?,
                    until_ms: r.try_get_by_index(2).map_err(self.ctx.at(what))?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(fields: &[&str]) -> String {
        fields.join("\u{1f}")
    }

    #[test]
    fn aggregated_participants_come_back_in_leaf_order_with_their_sums() {
        let parts = [rec(&["bb", "bob", "20", "25"]), rec(&["aa", "ann", "20", "21"]), rec(&["cc", "cy", "10", "10"])]
            .join("\u{1e}");
        let signals = [
            rec(&["aa", "1", "2"]),
            rec(&["aa", "2", "100"]),
            rec(&["cc", "1", "1"]),
            rec(&["aa", "99", "9"]),
            rec(&["zz", "1", "5"]),
        ]
        .join("\u{1e}");
        let rows = participants_from_agg(1, "c", (3, Some(&parts)), (5, Some(&signals))).unwrap();
        let order: Vec<&str> = rows.iter().map(|r| r.user_hash.as_str()).collect();
        assert_eq!(order, ["cc", "aa", "bb"], "first_seen, then user_hash");
        let ann = Signals::default().with(SignalKind::Message, 2).with(SignalKind::Bits, 100);
        assert_eq!((rows[1].login.as_str(), rows[1].signals, rows[1].last_seen), ("ann", ann, 21));
        assert_eq!(rows[2].signals, Signals::default());
        assert_eq!(participants_from_agg(1, "c", (0, None), (0, None)), Some(vec![]));
    }

    #[test]
    fn what_the_text_cannot_carry_goes_to_the_row_read() {
        let one = rec(&["aa", "ann", "1", "2"]);
        // A NULL login drops its record from the text: 2 counted, 1 there.
        assert_eq!(participants_from_agg(1, "c", (2, Some(&one)), (0, None)), None);
        // A login holding a separator.
        let odd = rec(&["aa", "a\u{1f}nn", "1", "2"]);
        assert_eq!(participants_from_agg(1, "c", (1, Some(&odd)), (0, None)), None);
        // A value that is not a number.
        let bad = rec(&["aa", "ann", "x", "2"]);
        assert_eq!(participants_from_agg(1, "c", (1, Some(&bad)), (0, None)), None);
        // Signal sums saturate.
        let s = [rec(&["aa", "2", &i64::MAX.to_string()]), rec(&["aa", "2", "5"])].join("\u{1e}");
        let rows = participants_from_agg(1, "c", (1, Some(&one)), (2, Some(&s))).unwrap();
        assert_eq!(rows[0].signals[SignalKind::Bits], i64::MAX);
    }
}

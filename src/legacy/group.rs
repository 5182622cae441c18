//! One (epoch, channel) of the old database, all its rows together, to the rows chatseal
//! imports: participation, signals, users named by the old seal, and the seal itself (see
//! [`super::reseal`]). Every seal met is logged with its outcome, so the import can report
//! and then check each one in the target. Pure.

use std::collections::HashSet;

use chatseal_schema::copy::ImportBatch;

use super::convert::{
    fold_participation, fold_signals, normalize_channel, normalize_hash, parse_int, user_row, Notes, SignalIn,
};
use super::read::GroupRow;
use super::reseal::{reseal, MemberIn, Resealed};

/// What happened to one old seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealOutcome {
    /// Imported; the recomputed leaves fold to the old root (format 1).
    Reproduced,
    /// Imported with the old root; the recomputed leaves do not fold to it (format 0).
    RootKeptLeavesNotReproducible,
    /// Not imported, with the reason.
    Skipped(String),
}

/// One old seal as imported (or not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealRecord {
    /// Epoch start, Unix seconds.
    pub epoch: i64,
    /// The normalised (lowercase, no `#`) channel login.
    pub channel: String,
    /// The normalised old root (None: an empty seal).
    pub root: Option<String>,
    /// Rows of the old seal in sealed_participants.
    pub participants: usize,
    /// Whether and how the seal was imported.
    pub outcome: SealOutcome,
}

/// Every old seal met so far.
#[derive(Debug, Default)]
pub struct SealLog {
    /// The seals in the order they were met.
    pub records: Vec<SealRecord>,
    keys: HashSet<(i64, String)>,
}

impl SealLog {
    /// How many records have an outcome for which `f` is true.
    pub fn count(&self, f: impl Fn(&SealOutcome) -> bool) -> usize {
        self.records.iter().filter(|r| f(&r.outcome)).count()
    }
}

/// Converts the rows of one old (epoch, channel) (see the module doc).
pub fn convert_group(
    epoch_raw: Option<&str>,
    channel_raw: Option<&str>,
    rows: &[GroupRow],
    notes: &mut Notes,
    log: &mut SealLog,
) -> ImportBatch {
    let mut batch = ImportBatch::default();
    let (Some(epoch), Some(channel)) = (epoch_raw.and_then(parse_int), channel_raw.and_then(normalize_channel)) else {
        notes.skipped_groups.push(format!("epoch {epoch_raw:?} channel {channel_raw:?}: {} rows", rows.len()));
        return batch;
    };
    let by = |tag: &'static str| rows.iter().filter(move |r| r.tag == tag);
    let signals: Vec<SignalIn> = by("s")
        .map(|r| SignalIn {
            user_hash: r.a.as_deref(),
            kind: r.b.as_deref(),
            value: r.c.as_deref(),
            timestamp: r.d.as_deref(),
        })
        .collect();
    let (sigs, latest) = fold_signals(epoch, &channel, &signals, notes);
    let parts: Vec<(Option<&str>, Option<&str>)> = by("p").map(|r| (r.a.as_deref(), r.b.as_deref())).collect();
    batch.participation = fold_participation(epoch, &channel, &parts, &latest, notes);
    batch.signals = sigs;

    let seals: Vec<&GroupRow> = by("e").collect();
    let Some(seal_row) = seals.first() else { return batch };
    let members: Vec<MemberIn> = by("m")
        .map(|r| MemberIn { idx: r.a.as_deref(), user_hash: r.b.as_deref(), username: r.c.as_deref() })
        .collect();
    let mut record = SealRecord {
        epoch,
        channel: channel.clone(),
        root: None,
        participants: members.len(),
        outcome: SealOutcome::Reproduced,
    };
    if seals.len() > 1 || !log.keys.insert((epoch, channel.clone())) {
        record.outcome = SealOutcome::Skipped("the old database holds more than one seal of this epoch and channel (channel names differing only in case or '#'?)".into());
        log.records.push(record);
        return batch;
    }
    match reseal(epoch, &channel, seal_row.a.as_deref(), seal_row.b.as_deref(), &members) {
        Resealed::Skipped(why) => record.outcome = SealOutcome::Skipped(why),
        Resealed::Kept { seal, reproducible } => {
            record.root = seal.root.clone();
            if !reproducible {
                record.outcome = SealOutcome::RootKeptLeavesNotReproducible;
            }
            // Sealed participants name their users: a users row for whoever user_mapping lacks
            // (an existing users row is kept).
            let first_seen: std::collections::HashMap<&str, i64> =
                batch.participation.iter().map(|p| (p.user_hash.as_str(), p.first_seen)).collect();
            let mut users = Vec::with_capacity(seal.participants.len());
            for m in by("m") {
                let uh = m.b.as_deref().and_then(normalize_hash);
                let fs = uh.as_deref().and_then(|h| first_seen.get(h)).copied().unwrap_or(seal.sealed_at);
                let mut quiet = Notes::default();
                users.extend(user_row(m.b.as_deref(), m.c.as_deref(), Some(&fs.to_string()), &mut quiet));
            }
            batch.users = users;
            batch.seals.push(seal);
        }
    }
    log.records.push(record);
    batch
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatseal_actors::format::{participation_leaf, to_hex, user_hash};
    use chatseal_actors::sealer::merkle::MerkleTree;

    fn row(tag: &str, a: &str, b: &str, c: Option<&str>, d: Option<&str>) -> GroupRow {
        GroupRow {
            epoch: Some("3600".into()),
            channel: Some("#Chan".into()),
            tag: tag.into(),
            a: Some(a.into()),
            b: Some(b.into()),
            c: c.map(Into::into),
            d: d.map(Into::into),
        }
    }

    #[test]
    fn a_group_with_its_seal() {
        let (ha, hb) = (to_hex(&user_hash("alice")), to_hex(&user_hash("bob")));
        let leaves = vec![
            participation_leaf(&user_hash("alice"), "chan", 3600),
            participation_leaf(&user_hash("bob"), "chan", 3600),
        ];
        let root = to_hex(&MerkleTree::build(leaves).unwrap().root());
        let rows = vec![
            row("p", &ha, "3601", None, None),
            row("p", &format!("0x{hb}"), "3602", None, None),
            row("s", &ha, "chat", Some("1"), Some("3650")),
            row("s", &hb, "wave", Some("1"), Some("3603")),
            row("e", &root, "7300", None, None),
            row("m", "0", &ha, Some("Alice"), None),
            row("m", "1", &hb, Some("bob"), None),
        ];
        let (mut notes, mut log) = (Notes::default(), SealLog::default());
        let b = convert_group(Some("3600"), Some("#Chan"), &rows, &mut notes, &mut log);
        assert_eq!(b.participation.len(), 2);
        assert_eq!(b.participation.iter().find(|p| p.user_hash == ha).map(|p| p.last_seen), Some(3650));
        assert_eq!(b.signals.len(), 1);
        assert_eq!(notes.unknown_kinds.get("wave"), Some(&1));
        assert_eq!(b.users.len(), 2);
        assert_eq!(b.seals.len(), 1);
        assert_eq!(log.records[0].outcome, SealOutcome::Reproduced);
        assert_eq!(log.records[0].root.as_deref(), Some(root.as_str()));
        // The same seal met again (another spelling of the channel) is not imported twice.
        let again = convert_group(Some("3600"), Some("chan"), &rows, &mut notes, &mut log);
        assert!(again.seals.is_empty());
        assert!(matches!(log.records[1].outcome, SealOutcome::Skipped(_)));
    }

    #[test]
    fn an_unreadable_group_is_noted() {
        let (mut notes, mut log) = (Notes::default(), SealLog::default());
        let b = convert_group(Some("soon"), Some("c"), &[], &mut notes, &mut log);
        assert!(b.is_empty());
        assert_eq!(notes.skipped_groups.len(), 1);
    }
}

//! Comparing two stores after a copy: row counts per table, every seal's root, claim root,
//! participant count and digest (looked up by key in the other store, so the two engines'
//! text orders never matter), and the target's own digest check (which proves the sealed
//! participants arrived byte for byte).

use super::io::Row;
use super::spec::{all_specs, table_spec};
use crate::error::StoreError;
use crate::open::Store;
use sea_orm::Value;

/// Seals read per page.
const SEALS_PER_PAGE: usize = 2_000;
/// The fields of a seal that must be equal.
pub const SEAL_FIELDS: [&str; 4] = ["root", "claim_root", "participants", "digest"];

/// Row counts of one table in both stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableCount {
    /// The table's name.
    pub table: &'static str,
    /// Rows in the source.
    pub source: u64,
    /// Rows in the target.
    pub target: u64,
}

/// A seal that is not the same in both stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SealDiff {
    /// Sealed in the source, not in the target.
    Missing {
        /// The epoch's start, Unix seconds.
        epoch: i64,
        /// The channel.
        channel: String,
    },
    /// Sealed in both, with these fields different.
    Differs {
        /// The epoch's start, Unix seconds.
        epoch: i64,
        /// The channel.
        channel: String,
        /// Which of [`SEAL_FIELDS`] differ.
        fields: Vec<&'static str>,
    },
}

/// The outcome of [`compare_stores`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Row counts of every table, in [`crate::entity::TABLES`] order.
    pub counts: Vec<TableCount>,
    /// Seals of the source looked up in the target.
    pub seals_checked: u64,
    /// Source seals missing from the target or different there.
    pub seal_diffs: Vec<SealDiff>,
    /// Target seals, as (epoch, channel), whose rows do not match their digest.
    pub bad_digests: Vec<(i64, String)>,
}

impl Comparison {
    /// True when counts, seals and digests all agree.
    pub fn is_equal(&self) -> bool {
        self.counts.iter().all(|c| c.source == c.target) && self.seal_diffs.is_empty() && self.bad_digests.is_empty()
    }

    /// One line per difference, for an operator.
    pub fn differences(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .counts
            .iter()
            .filter(|c| c.source != c.target)
            .map(|c| format!("table {}: {} rows in the source, {} in the target", c.table, c.source, c.target))
            .collect();
        for d in &self.seal_diffs {
            out.push(match d {
                SealDiff::Missing { epoch, channel } => {
                    format!("seal of epoch {epoch} #{channel}: missing in the target")
                }
                SealDiff::Differs { epoch, channel, fields } => {
                    format!("seal of epoch {epoch} #{channel}: {} differ", fields.join(", "))
                }
            });
        }
        for (epoch, channel) in &self.bad_digests {
            out.push(format!("seal of epoch {epoch} #{channel}: the target's rows do not match its digest"));
        }
        out
    }
}

fn epoch_channel(row: &Row) -> (i64, String) {
    let epoch = match row.first() {
        Some(Value::BigInt(Some(e))) => *e,
        _ => 0,
    };
    let channel = match row.get(1) {
        Some(Value::String(Some(c))) => c.clone(),
        _ => String::new(),
    };
    (epoch, channel)
}

/// Compares `source` and `target` (see the module doc).
pub async fn compare_stores(source: &Store, target: &Store) -> Result<Comparison, StoreError> {
    let mut cmp = Comparison::default();
    for spec in all_specs()? {
        cmp.counts.push(TableCount {
            table: spec.name,
            source: source.count_rows(&spec).await?,
            target: target.count_rows(&spec).await?,
        });
    }
    let spec = table_spec("sealed_epochs")?;
    let fields: Vec<(usize, &'static str)> = SEAL_FIELDS
        .iter()
        .map(|f| {
            spec.position(f)
                .map(|i| (i, *f))
                .ok_or_else(|| StoreError::Invalid { what: "sealed_epochs spec", detail: format!("no column {f}") })
        })
        .collect::<Result<_, _>>()?;
    let mut after: Option<Row> = None;
    loop {
        let page = source.read_page(&spec, after.as_deref(), SEALS_PER_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(spec.key_of(last));
        let keys: Vec<Row> = page.iter().map(|r| spec.key_of(r)).collect();
        let there = target.rows_by_keys(&spec, &keys).await?;
        for row in &page {
            cmp.seals_checked += 1;
            let (epoch, channel) = epoch_channel(&spec.key_of(row));
            match there.get(&spec.key_of(row)) {
                None => cmp.seal_diffs.push(SealDiff::Missing { epoch, channel }),
                Some(t) => {
                    let differ: Vec<&'static str> =
                        fields.iter().filter(|(i, _)| row[*i] != t[*i]).map(|(_, f)| *f).collect();
                    if !differ.is_empty() {
                        cmp.seal_diffs.push(SealDiff::Differs { epoch, channel, fields: differ });
                    }
                }
            }
        }
    }
    cmp.bad_digests = target.verify_digests().await?;
    Ok(cmp)
}

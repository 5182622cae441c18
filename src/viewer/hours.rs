//! "Which sealed hours am I in?" for one login: the sealed channel-epochs where they took part,
//! newest first, each with their frozen index, the amount they can claim (null where the seal
//! has no claim tree or the claim cap left them out) and whether the root was published.
//!
//! Paging is by `before` (an exclusive epoch): a page holds at most `limit` hours and never
//! splits an epoch, so the next page (`before` = the page's oldest epoch) repeats nothing and
//! misses nothing. Where one epoch alone holds more than `limit` hours (a login in more than
//! `limit` channels in one hour), the page is that whole epoch. `next_before` is null on the
//! last page. Opted-out logins are refused, whatever they took part in before.

use std::collections::HashMap;

use chatseal_actors::format::{to_hex, user_hash};
use chatseal_schema::queries::user_epochs::UserSealedRow;
use chatseal_schema::{SealedEpoch, Store, StoreError};
use serde::Serialize;

use super::published::published_of;

/// Hours per page unless asked otherwise.
pub const DEFAULT_LIMIT: u64 = 50;
/// The most hours one page may ask for; a larger `limit` is clamped to it.
pub const MAX_LIMIT: u64 = 1000;

/// One sealed hour of the login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HourItem {
    /// Epoch start, Unix seconds.
    pub epoch: i64,
    /// Lowercase channel login, without `#`.
    pub channel: String,
    /// The login's leaf index in both trees.
    pub index: i64,
    /// Base units (decimal string); null when the login is not in the claim tree.
    pub amount: Option<String>,
    /// Whether a publication of this seal's root on chain has been recorded.
    pub published: bool,
}

/// `GET /v1/users/{login}/epochs`.
#[derive(Debug, Clone, Serialize)]
pub struct UserEpochsView {
    /// The asked login, ASCII-lowercased.
    pub login: String,
    /// `0x` + keccak256 of the lowercase login.
    pub user_hash: String,
    /// The page's hours: epoch descending, then channel ascending; whole epochs only.
    pub items: Vec<HourItem>,
    /// `before` for the next page; null when this is the last one.
    pub next_before: Option<i64>,
}

/// Why the sealed hours of a login cannot be listed.
#[derive(Debug, thiserror::Error)]
pub enum HoursError {
    /// The login opted out; refused whatever they took part in before.
    #[error("{login} opted out; their sealed hours are not served")]
    OptedOut {
        /// The asked login, ASCII-lowercased.
        login: String,
    },
    /// A sealed participant row names a (epoch, channel) that has no seal.
    #[error("the sealed rows of {login} name epoch {epoch} of #{channel}, which has no seal: the store is damaged; run `chatseal doctor`")]
    Damaged {
        /// The asked login, ASCII-lowercased.
        login: String,
        /// Epoch start of the orphan row, Unix seconds.
        epoch: i64,
        /// Channel of the orphan row.
        channel: String,
    },
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the first `limit + 1` rows (newest first) make of a page.
#[derive(Debug, PartialEq, Eq)]
pub enum Cut {
    /// These rows; `more` when older rows exist.
    Page {
        /// The rows of the page, only whole epochs, still epoch descending.
        rows: Vec<UserSealedRow>,
        /// True when rows older than the page exist (a next page).
        more: bool,
    },
    /// The rows all belong to this epoch and fill more than the page: read it whole.
    WholeEpoch(i64),
}

/// Cuts `rows` (at most `limit + 1`, epoch descending) at an epoch boundary.
pub fn cut_page(mut rows: Vec<UserSealedRow>, limit: usize) -> Cut {
    let limit = limit.max(1);
    if rows.len() <= limit {
        return Cut::Page { rows, more: false };
    }
    let split = rows[limit].epoch;
    rows.truncate(limit);
    rows.retain(|r| r.epoch != split);
    if rows.is_empty() {
        Cut::WholeEpoch(split)
    } else {
        Cut::Page { rows, more: true }
    }
}

/// The amount `row` can claim under `seal`: none without a claim tree, or at an index the
/// claim cap left out (the last `claim_cut` indexes).
pub fn claimable(row: &UserSealedRow, seal: &SealedEpoch) -> Option<String> {
    let in_tree = seal.participants - seal.claim_cut.max(0);
    (seal.claim_root.is_some() && row.idx < in_tree).then(|| row.amount.clone())
}

/// Puts a page in the answer's order: epoch descending, then channel ascending.
fn order(rows: &mut [UserSealedRow]) {
    rows.sort_by(|a, b| b.epoch.cmp(&a.epoch).then_with(|| a.channel.cmp(&b.channel)));
}

/// The sealed hours of `login` (lowercase, validated), of one channel or all, before `before`.
pub async fn user_hours(
    store: &Store,
    login: &str,
    channel: Option<&str>,
    before: Option<i64>,
    limit: u64,
) -> Result<UserEpochsView, HoursError> {
    let login = login.to_ascii_lowercase();
    let uh = to_hex(&user_hash(&login));
    if store.is_opted_out(&uh).await? {
        return Err(HoursError::OptedOut { login });
    }
    let limit = limit.clamp(1, MAX_LIMIT);
    let first = store.user_sealed_rows(&uh, channel, before.unwrap_or(i64::MAX), limit + 1).await?;
    let (mut rows, more) = match cut_page(first, limit as usize) {
        Cut::Page { rows, more } => (rows, more),
        Cut::WholeEpoch(epoch) => {
            let rows = store.user_sealed_rows_in_epoch(&uh, channel, epoch).await?;
            let more = !store.user_sealed_rows(&uh, channel, epoch, 1).await?.is_empty();
            (rows, more)
        }
    };
    order(&mut rows);
    let mut keys: Vec<(i64, String)> = rows.iter().map(|r| (r.epoch, r.channel.clone())).collect();
    keys.dedup();
    let seals: HashMap<(i64, String), SealedEpoch> =
        store.seals_of(&keys).await?.into_iter().map(|s| ((s.epoch, s.channel.clone()), s)).collect();
    let published = published_of(store, &keys).await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let key = (row.epoch, row.channel.clone());
        let seal = seals.get(&key).ok_or_else(|| HoursError::Damaged {
            login: login.clone(),
            epoch: row.epoch,
            channel: row.channel.clone(),
        })?;
        items.push(HourItem {
            amount: claimable(&row, seal),
            published: published.contains(&key),
            epoch: row.epoch,
            channel: row.channel,
            index: row.idx,
        });
    }
    let next_before = if more { items.iter().map(|i| i.epoch).min() } else { None };
    Ok(UserEpochsView { login, user_hash: format!("0x{uh}"), items, next_before })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(epoch: i64, channel: &str) -> UserSealedRow {
        UserSealedRow { epoch, channel: channel.into(), idx: 0, amount: "1".into() }
    }

    fn epochs(cut: &Cut) -> Vec<(i64, String)> {
        match cut {
            Cut::Page { rows, .. } => rows.iter().map(|r| (r.epoch, r.channel.clone())).collect(),
            Cut::WholeEpoch(_) => vec![],
        }
    }

    #[test]
    fn a_page_ends_at_an_epoch_boundary() {
        // Fewer rows than the limit, and exactly the limit: the last page.
        assert_eq!(
            cut_page(vec![row(30, "a"), row(20, "a")], 3),
            Cut::Page { rows: vec![row(30, "a"), row(20, "a")], more: false }
        );
        let three = vec![row(30, "a"), row(20, "a"), row(10, "a")];
        assert_eq!(cut_page(three.clone(), 3), Cut::Page { rows: three.clone(), more: false });
        // One more than the limit in a new epoch: the page is full, more follow.
        let mut four = three.clone();
        four.push(row(5, "a"));
        assert_eq!(cut_page(four, 3), Cut::Page { rows: three, more: true });
        // The extra row shares the last epoch: that epoch moves to the next page whole.
        let split = cut_page(vec![row(30, "b"), row(30, "a"), row(20, "b"), row(20, "a")], 3);
        assert_eq!(epochs(&split), vec![(30, "b".into()), (30, "a".into())]);
        assert!(matches!(split, Cut::Page { more: true, .. }));
        // One epoch fills more than the page: read it whole.
        assert_eq!(cut_page(vec![row(30, "c"), row(30, "b"), row(30, "a")], 2), Cut::WholeEpoch(30));
        assert_eq!(cut_page(vec![], 3), Cut::Page { rows: vec![], more: false });
    }

    fn seal(participants: i64, claim_cut: i64, claim_root: bool) -> SealedEpoch {
        SealedEpoch {
            epoch: 0,
            channel: "c".into(),
            root: Some("aa".into()),
            claim_root: claim_root.then(|| "bb".into()),
            participants,
            coverage: 1.0,
            digest: String::new(),
            sealed_at: 0,
            format_version: 1,
            claim_cut,
        }
    }

    #[test]
    fn no_amount_past_the_claim_cap_or_without_a_claim_tree() {
        let at = |idx| UserSealedRow { epoch: 0, channel: "c".into(), idx, amount: "80".into() };
        assert_eq!(claimable(&at(0), &seal(5, 0, true)).as_deref(), Some("80"));
        assert_eq!(claimable(&at(4), &seal(5, 0, true)).as_deref(), Some("80"));
        assert_eq!(claimable(&at(2), &seal(5, 2, true)).as_deref(), Some("80"), "the last index the cap keeps");
        assert_eq!(claimable(&at(3), &seal(5, 2, true)), None, "the first index the cap cut");
        assert_eq!(claimable(&at(0), &seal(5, 0, false)), None, "no claim tree (imported seal)");
    }
}

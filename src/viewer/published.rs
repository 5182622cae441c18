//! The publication state of sealed hours for the viewer: which of a page's (epoch, channel)s
//! have a publication record (`POST /v1/admin/published`, docs/publishing.md). One range read
//! over the page's epochs, then matched against the page's keys.

use std::collections::HashSet;

use chatseal_schema::{Store, StoreError};

/// The (epoch, channel)s among `keys` that have a publication record.
pub async fn published_of(store: &Store, keys: &[(i64, String)]) -> Result<HashSet<(i64, String)>, StoreError> {
    let (Some(from), Some(to)) = (keys.iter().map(|k| k.0).min(), keys.iter().map(|k| k.0).max()) else {
        return Ok(HashSet::new());
    };
    let wanted: HashSet<&(i64, String)> = keys.iter().collect();
    let found = store.publications_between(from, to, None).await?;
    Ok(found.into_iter().map(|p| (p.epoch, p.channel)).filter(|k| wanted.contains(k)).collect())
}

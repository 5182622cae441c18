//! The publication state of sealed hours for the viewer: which of a page's (epoch, channel)s
//! have a publication record (`POST /v1/admin/published`). NOT WIRED YET: the publication
//! record table is added on another branch (migration 06); until it is merged this answers
//! "not published" for every hour, and `published` is false in every answer. Wiring it is this
//! one function: read the records of `keys` (one primary-key lookup each, or one IN list).

use std::collections::HashSet;

use chatseal_schema::{Store, StoreError};

/// The (epoch, channel)s among `keys` that have a publication record.
pub async fn published_of(_store: &Store, _keys: &[(i64, String)]) -> Result<HashSet<(i64, String)>, StoreError> {
    Ok(HashSet::new())
}

//! The rows of a seal in the keyed layout (`crate::layout::create_keyed_table_sql`), written
//! and read in one place: by `write_seal` and by the conversion's third step
//! (`migration::compact::keyed`), which writes the same rows the same way.
//!
//! Writing: the frozen leaves go in as ONE JSON array parameter per chunk, unpacked by the
//! database's own JSON functions, instead of a bound value per field: binding was most of the
//! write (about 13 us per leaf through the driver). Each element is [idx, user_hash, login,
//! amount, leaf, claim_leaf]; a leaf is `null` where it is the one the format computes
//! (`crate::leaves::stored`), else its hex; the database decodes the hex to the 32 bytes
//! (`unhex`, `decode`; `check_seal` checked them). The rows go in in key order (user hash),
//! so each b-tree page is filled before the next one is started.
//!
//! Reading: [`participant_of`] gives back a row of [`LEAF_COLUMNS`] as the seal froze it, its
//! NULL leaves filled in by `crate::leaves::filled`.

use super::stmt;
use crate::backend::Backend;
use crate::keys::hash_from_bytes;
use crate::leaves::{filled, stored, RowFields};
use crate::rows::SealedParticipant;
use sea_orm::{ConnectionTrait, DbErr, QueryResult, Value};

/// Frozen leaves per insert statement (about 200 bytes of JSON each).
const LEAVES_PER_INSERT: usize = 20_000;

/// Seals from this many participants have their JSON built on two threads.
const PARALLEL_FROM: usize = 2_000;

/// The insert of one chunk into `table` (`$1` epoch, `$2` channel id, `$3` the JSON array).
fn insert_sql(backend: Backend, table: &str) -> String {
    match backend {
        Backend::Sqlite => format!(
            "INSERT INTO {table} (epoch, channel_id, user_hash, idx, login, amount, leaf, claim_leaf) \
             SELECT ?, ?, unhex(e.value ->> 1), e.value ->> 0, e.value ->> 2, e.value ->> 3, unhex(e.value ->> 4), \
             unhex(e.value ->> 5) FROM json_each(?) AS e"
        ),
        Backend::Postgres => format!(
            "INSERT INTO {table} (epoch, channel_id, user_hash, idx, login, amount, leaf, claim_leaf) \
             SELECT $1, $2, decode(e ->> 1, 'hex'), (e ->> 0)::bigint, e ->> 2, e ->> 3, decode(e ->> 4, 'hex'), \
             decode(e ->> 5, 'hex') FROM json_array_elements($3::json) AS e"
        ),
    }
}

/// The JSON array of one chunk of participants (see the module doc), written straight into
/// one buffer: no JSON value tree and no copy of each field.
fn leaves_json(epoch: i64, channel: &str, chunk: &[&SealedParticipant]) -> Result<String, serde_json::Error> {
    use std::io::Write;
    let mut out: Vec<u8> = Vec::with_capacity(chunk.len() * 200 + 2);
    let mut user = [0u8; 32];
    out.push(b'[');
    for (i, p) in chunk.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let user_ok = hex::decode_to_slice(&p.user_hash, &mut user).is_ok();
        let row = RowFields {
            epoch,
            channel,
            idx: p.idx,
            user_hash: if user_ok { &user } else { &[] },
            login: p.login.as_bytes(),
            amount: p.amount.as_bytes(),
        };
        let (leaf, claim) = stored(&row, &p.leaf, &p.claim_leaf);
        // Writing into a Vec cannot fail; the strings go through serde_json's escaping.
        let _ = write!(out, "[{}", p.idx);
        for field in [&p.user_hash, &p.login, &p.amount] {
            out.push(b',');
            serde_json::to_writer(&mut out, field)?;
        }
        for (keep, field) in [(leaf, &p.leaf), (claim, &p.claim_leaf)] {
            out.push(b',');
            if keep {
                serde_json::to_writer(&mut out, field)?;
            } else {
                out.extend_from_slice(b"null");
            }
        }
        out.push(b']');
    }
    out.push(b']');
    // Only whole UTF-8 strings and ASCII were written.
    String::from_utf8(out).map_err(|e| serde_json::Error::io(std::io::Error::other(e)))
}

/// The JSON chunks of a seal's participants in key order, built on two threads (the leaves
/// are hashed to decide what is stored).
fn chunks_json(epoch: i64, channel: &str, participants: &[SealedParticipant]) -> Result<Vec<String>, DbErr> {
    let mut sorted: Vec<&SealedParticipant> = participants.iter().collect();
    // Lowercase hex sorts as the bytes do.
    sorted.sort_unstable_by(|a, b| a.user_hash.cmp(&b.user_hash));
    // At least two chunks when there is enough work for the second thread.
    let per = if sorted.len() < PARALLEL_FROM { LEAVES_PER_INSERT } else { sorted.len().div_ceil(2) };
    let chunks: Vec<&[&SealedParticipant]> = sorted.chunks(per.min(LEAVES_PER_INSERT)).collect();
    let encode = |cs: &[&[&SealedParticipant]]| -> Result<Vec<String>, serde_json::Error> {
        cs.iter().map(|c| leaves_json(epoch, channel, c)).collect()
    };
    let bad = |e: String| DbErr::Custom(format!("encoding frozen leaves as JSON: {e}"));
    let (first, second) = chunks.split_at(chunks.len() / 2);
    if first.is_empty() {
        return encode(second).map_err(|e| bad(e.to_string()));
    }
    let (a, b) = std::thread::scope(|s| {
        let other = s.spawn(|| encode(first));
        let b = encode(second);
        (other.join(), b)
    });
    let mut out = a.map_err(|_| bad("a thread stopped".into()))?.map_err(|e| bad(e.to_string()))?;
    out.extend(b.map_err(|e| bad(e.to_string()))?);
    Ok(out)
}

/// Writes the participants of the seal (epoch, `channel` with id `channel_id`) into `table`
/// (of the keyed layout), in the caller's transaction; returns the rows written.
pub(crate) async fn insert_participants(
    db: &impl ConnectionTrait,
    backend: Backend,
    table: &str,
    epoch: i64,
    (channel, channel_id): (&str, i32),
    participants: &[SealedParticipant],
) -> Result<u64, DbErr> {
    if participants.is_empty() {
        return Ok(0);
    }
    let sql = insert_sql(backend, table);
    let mut written = 0;
    for json in chunks_json(epoch, channel, participants)? {
        let values = vec![Value::from(epoch), channel_id.into(), json.into()];
        written += db.execute_raw(stmt(db.get_database_backend(), sql.clone(), values)).await?.rows_affected();
    }
    Ok(written)
}

/// The columns of a frozen leaf as the reads select them (hashes as bytes, leaves NULL where
/// computed); see [`participant_of`].
pub(crate) const LEAF_COLUMNS: &str = "idx, user_hash, login, amount, leaf, claim_leaf";

/// A frozen leaf of the seal (epoch, channel) from a row of [`LEAF_COLUMNS`] (from column
/// `at` on), hashes back to hex, NULL leaves filled in.
pub(crate) fn participant_of(
    epoch: i64,
    channel: &str,
    r: &QueryResult,
    at: usize,
) -> Result<SealedParticipant, DbErr> {
    let idx: i64 = r.try_get_by_index(at)?;
    let user: Vec<u8> = r.try_get_by_index(at + 1)?;
    let login: String = r.try_get_by_index(at + 2)?;
    let amount: String = r.try_get_by_index(at + 3)?;
    let leaf: Option<Vec<u8>> = r.try_get_by_index(at + 4)?;
    let claim: Option<Vec<u8>> = r.try_get_by_index(at + 5)?;
    let row = RowFields { epoch, channel, idx, user_hash: &user, login: login.as_bytes(), amount: amount.as_bytes() };
    let (leaf, claim) = filled(&row, leaf.as_deref(), claim.as_deref());
    let (leaf, claim_leaf) = (hash_from_bytes(leaf.bytes()), hash_from_bytes(claim.bytes()));
    Ok(SealedParticipant { idx, user_hash: hash_from_bytes(&user), login, leaf, amount, claim_leaf })
}

/// The frozen leaves of the seal (epoch, `channel` with id `channel_id`) read through SQLite's
/// C API (`crate::sqlite_raw`), each row's columns borrowed from the statement and made into
/// its [`SealedParticipant`] at once, the same way as [`participant_of`]: no copy of every row
/// held beside the result (the driver's rows were most of a large seal's read memory). Read in
/// key order and sorted by idx here, so SQLite builds no sorter of the whole seal either.
pub(crate) fn raw_participants(
    db: &mut crate::sqlite_raw::RawDb,
    epoch: i64,
    channel: &str,
    channel_id: i32,
) -> Result<Vec<SealedParticipant>, crate::sqlite_raw::RawError> {
    use crate::sqlite_raw::{Kind, RawError};
    let sql = format!("SELECT {LEAF_COLUMNS} FROM sealed_participants WHERE epoch = ? AND channel_id = ?");
    let mut stmt = db.prepare(&sql)?;
    stmt.reset_with(&[epoch, i64::from(channel_id)])?;
    let text = |b: &[u8], what: &str| {
        std::str::from_utf8(b).map(str::to_owned).map_err(|e| RawError {
            code: None,
            detail: format!("the {what} of a frozen leaf of epoch {epoch} channel {channel} is not UTF-8: {e}"),
        })
    };
    let mut out = Vec::new();
    while let Some(r) = stmt.next()? {
        if r.kind(0) != Kind::Integer {
            return Err(RawError {
                code: None,
                detail: format!("a frozen leaf of epoch {epoch} channel {channel} has no integer idx"),
            });
        }
        let idx = r.i64(0);
        let user = r.bytes(1);
        let login = text(r.bytes(2), "login")?;
        let amount = text(r.bytes(3), "amount")?;
        let stored = |i| (r.kind(i) != Kind::Null).then(|| r.bytes(i));
        let row =
            RowFields { epoch, channel, idx, user_hash: user, login: login.as_bytes(), amount: amount.as_bytes() };
        let (leaf, claim) = filled(&row, stored(4), stored(5));
        let (leaf, claim_leaf) = (hash_from_bytes(leaf.bytes()), hash_from_bytes(claim.bytes()));
        out.push(SealedParticipant { idx, user_hash: hash_from_bytes(user), login, leaf, amount, claim_leaf });
    }
    out.sort_by_key(|p| p.idx);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computed_leaves_go_in_as_null_and_rows_in_key_order() {
        let user = |n: u8| [n; 32];
        let p = |idx: i64, u: [u8; 32]| {
            let row = RowFields { epoch: 7, channel: "c", idx, user_hash: &u, login: b"bob", amount: b"5" };
            SealedParticipant {
                idx,
                user_hash: hex::encode(u),
                login: "bob".into(),
                leaf: hex::encode(row.leaf().unwrap()),
                amount: "5".into(),
                claim_leaf: hex::encode(row.claim_leaf().unwrap()),
            }
        };
        let mut other = p(1, user(1));
        other.claim_leaf = String::new();
        let json = chunks_json(7, "c", &[p(0, user(9)), other]).unwrap();
        assert_eq!(json.len(), 1);
        let v: serde_json::Value = serde_json::from_str(&json[0]).unwrap();
        assert_eq!(v[0][0], 1, "user 01.. first");
        assert_eq!((v[0][4].is_null(), v[0][5].as_str()), (true, Some("")));
        assert_eq!((v[1][4].is_null(), v[1][5].is_null()), (true, true));
        assert_eq!(insert_sql(Backend::Sqlite, "t").matches("unhex").count(), 3);
    }
}

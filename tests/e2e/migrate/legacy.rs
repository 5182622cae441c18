//! `chatseal migrate --legacy`: an old system's database, built here with raw SQL in a SQLite
//! file, imported into a new store. One seal's legacy root is computed with merkle.md's rules
//! (it must come through as current format, with working proofs), one is not reproducible (its
//! root must be kept and reported), hashes are stored with and without 0x in both cases, signal
//! types are mapped (an unknown one reported), and a second import changes nothing.

use chatseal::proofs::participation_proof;
use chatseal_actors::format::{participation_leaf, to_hex, user_hash};
use chatseal_actors::sealer::merkle::MerkleTree;
use chatseal_schema::{SignalKind, Store};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Executor};

use super::{chatseal, number_after};

const A: i64 = 1_716_998_400;
const B: i64 = A + 3600;

const SCHEMA: &str = "
CREATE TABLE channel_participation (epoch INTEGER, channel TEXT, user_hash TEXT, first_seen INTEGER, PRIMARY KEY (epoch, channel, user_hash));
CREATE TABLE user_signals (epoch INTEGER, channel TEXT, user_hash TEXT, signal_type TEXT, value INTEGER, timestamp INTEGER);
CREATE TABLE sealed_epochs (epoch INTEGER, channel TEXT, root TEXT, sealed_at INTEGER, published INTEGER, PRIMARY KEY (epoch, channel));
CREATE TABLE sealed_participants (epoch INTEGER, channel TEXT, idx INTEGER, user_hash TEXT, username TEXT, PRIMARY KEY (epoch, channel, idx));
CREATE TABLE user_mapping (user_hash TEXT PRIMARY KEY, username TEXT, first_seen INTEGER);
";

/// The old way of writing a hash: alternately `0x` + upper case, and bare lower case.
fn old_hash(login: &str, i: usize) -> String {
    let h = to_hex(&user_hash(login));
    if i.is_multiple_of(2) {
        format!("0x{}", h.to_uppercase())
    } else {
        h
    }
}

fn root_of(logins: &[&str], channel: &str, epoch: i64) -> String {
    let leaves = logins.iter().map(|l| participation_leaf(&user_hash(l), channel, epoch as u64)).collect();
    to_hex(&MerkleTree::build(leaves).unwrap().root())
}

/// Builds the old database; returns the two legacy roots (as stored: A's with 0x, upper case).
async fn old_database(path: &std::path::Path) -> (String, String) {
    let opts = SqliteConnectOptions::new().filename(path).create_if_missing(true);
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(opts).await.unwrap();
    let mut sql = SCHEMA.to_owned();
    // Epoch A, #lacy: five users in first_seen order, a root made by merkle.md's rules.
    let a_users = ["alice", "bob", "carol", "dave", "erin"];
    for (i, u) in a_users.iter().enumerate() {
        let h = old_hash(u, i);
        sql += &format!("INSERT INTO channel_participation VALUES ({A}, 'lacy', '{h}', {});\n", A + 10 * i as i64);
        sql += &format!("INSERT INTO sealed_participants VALUES ({A}, 'lacy', {i}, '{h}', '{}');\n", u.to_uppercase());
        sql += &format!("INSERT INTO user_mapping VALUES ('{h}', '{u}', {});\n", A + i as i64);
    }
    let root_a = format!("0x{}", root_of(&a_users, "lacy", A).to_uppercase());
    sql += &format!("INSERT INTO sealed_epochs VALUES ({A}, 'lacy', '{root_a}', {}, 1);\n", B + 120);
    let alice = old_hash("alice", 0);
    for (kind, value, ts) in [("chat", "1", 100), ("chat", "1", 200), ("cheer", "100", 300)] {
        sql += &format!("INSERT INTO user_signals VALUES ({A}, 'lacy', '{alice}', '{kind}', {value}, {});\n", A + ts);
    }
    for (u, i, kind, value) in [
        ("bob", 1, "subgift", "1"),
        ("carol", 2, "raid", "1"),
        ("dave", 3, "follow", "1"),
        ("erin", 4, "message", "NULL"),
    ] {
        sql += &format!(
            "INSERT INTO user_signals VALUES ({A}, 'lacy', '{}', '{kind}', {value}, {});\n",
            old_hash(u, i),
            A + 50
        );
    }
    // Epoch B, #lacy: a root the old system made some other way (here: with "#lacy").
    let b_users = ["frank", "gina", "hank"];
    for (i, u) in b_users.iter().enumerate() {
        let h = old_hash(u, i);
        sql += &format!("INSERT INTO channel_participation VALUES ({B}, 'lacy', '{h}', {});\n", B + i as i64);
        sql += &format!("INSERT INTO sealed_participants VALUES ({B}, 'lacy', {i}, '{h}', '{u}');\n");
        if *u != "hank" {
            sql += &format!("INSERT INTO user_mapping VALUES ('{h}', '{u}', {});\n", B + i as i64);
        }
    }
    let root_b = root_of(&b_users, "#lacy", B);
    sql += &format!("INSERT INTO sealed_epochs VALUES ({B}, 'lacy', '{root_b}', {}, 0);\n", B + 3720);
    // Epoch A, #jasontheween: never sealed.
    for (i, u) in ["ivan", "judy"].iter().enumerate() {
        let h = old_hash(u, i);
        sql += &format!("INSERT INTO channel_participation VALUES ({A}, '#JasonTheWeen', '{h}', {});\n", A + 7);
        sql += &format!("INSERT INTO user_mapping VALUES ('{h}', '{u}', {A});\n");
    }
    pool.execute(AssertSqlSafe(sql)).await.unwrap();
    pool.close().await;
    (root_a, root_b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_database_imports_with_its_roots_intact() {
    let dir = tempfile::tempdir().unwrap();
    let old_path = dir.path().join("old.db");
    let (root_a, root_b) = old_database(&old_path).await;
    let from = format!("sqlite://{}", old_path.display());
    let to = format!("sqlite://{}", dir.path().join("new.db").display());

    let (code, out, err) = chatseal(&["migrate", "--legacy", "--from", &from, "--to", &to], &[]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains(&format!("epoch {B} #lacy: root kept, leaves not reproducible")), "{out}");
    assert!(!out.contains(&format!("epoch {A} #lacy: root kept")), "{out}");
    assert!(out.contains("\"follow\" 1"), "the unknown signal type is reported: {out}");

    let store = Store::open(&to).await.unwrap();
    let a = store.sealed_epoch(A, "lacy").await.unwrap().expect("epoch A sealed");
    assert_eq!(
        (a.root.as_deref(), a.format_version, a.participants, a.claim_root),
        (Some(root_a[2..].to_lowercase().as_str()), 1, 5, None)
    );
    let b = store.sealed_epoch(B, "lacy").await.unwrap().expect("epoch B sealed");
    assert_eq!((b.root.as_deref(), b.format_version, b.participants), (Some(root_b.as_str()), 0, 3));
    assert!(store.verify_digests().await.unwrap().is_empty());

    // The reproducible seal serves proofs that fold to the old root.
    let proof = participation_proof(&store, A, "lacy", "Carol").await.unwrap();
    assert_eq!(proof.root, root_a.to_lowercase());
    assert_eq!(proof.index, 2);
    // The old system sealed no claim tree; the unreproducible seal keeps its root and serves no
    // proof, each with its own clear answer (not "damaged").
    let e = chatseal::proofs::claim_proof(&store, A, "lacy", "carol").await.unwrap_err();
    assert_eq!(e.code(), "no_claim_tree", "{e}");
    let e = participation_proof(&store, B, "lacy", "frank").await.unwrap_err();
    assert_eq!(e.code(), "legacy_seal", "{e}");

    // Participation, last_seen from signals, mapped signal kinds.
    let rows = store.participants_for_seal(A, "lacy").await.unwrap();
    let get = |l: &str| rows.iter().find(|r| r.login == l).unwrap_or_else(|| panic!("{l} in {rows:?}"));
    assert_eq!(rows.len(), 5);
    assert_eq!(
        (get("alice").signals[SignalKind::Message], get("alice").signals[SignalKind::Bits], get("alice").last_seen),
        (2, 100, A + 300)
    );
    assert_eq!(
        (
            get("bob").signals[SignalKind::Gift],
            get("carol").signals[SignalKind::Raid],
            get("erin").signals[SignalKind::Message]
        ),
        (1, 1, 1)
    );
    assert_eq!((get("dave").signals[SignalKind::Message], get("dave").last_seen), (0, A + 30));
    let jt = store.participants_for_seal(A, "jasontheween").await.unwrap();
    let mut jt: Vec<&str> = jt.iter().map(|r| r.login.as_str()).collect();
    jt.sort();
    assert_eq!(jt, ["ivan", "judy"]);
    // hank is only named by the old seal.
    assert_eq!(store.participants_for_seal(B, "lacy").await.unwrap().len(), 3);
    drop(store);

    // A second import writes nothing new and reports the same.
    let (code, out, err) = chatseal(&["migrate", "--legacy", "--from", &from, "--to", &to], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("new rows: users 0, participation 0, signals 0, seals 0, sealed participants 0"), "{out}");
    assert_eq!(number_after(&out[out.find("seals: ").unwrap()..], "seals:"), 2, "{out}");

    // Something that is not the old system's database is refused.
    let (code, _, err) = chatseal(
        &["migrate", "--legacy", "--from", &to, "--to", &format!("sqlite://{}", dir.path().join("x.db").display())],
        &[],
    );
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("is not a database of the old system"), "{err}");
}

//! Fixtures for the independent cross-check (issue 5, `shared/spec/merkle.md` "Independent
//! check"). The real daemon seals one short epoch on 33 channels whose participant counts give
//! every tree shape from 1 to 33 leaves, plus one large channel. The sealed leaves and roots are
//! then read back from the store, checked here with our own merkle module (the stored leaves
//! re-derive from the stored rows and fold to the stored roots, every proof verifies), and
//! written as one JSON fixture per tree: `{"name", "epoch", "leaves": ["0x…"], "root": "0x…"}`,
//! for the participation and the claim tree alike. `.ci/run` feeds them to
//! `tests/crosscheck/crosscheck.mjs` (merkletreejs + keccak256), which compares the roots.
//!
//! The publish bundle of every one of those trees (`GET .../export`) is verified too, and
//! written to `bundles/<channel>-n<N>.bundle.json` of the same directory: crosscheck.mjs
//! rebuilds both roots of each from its entries with merkletreejs and re-derives every leaf.
//!
//! Fixtures go to the directory named by env `CHATSEAL_CROSSCHECK_DIR` when it is set, else to a
//! temporary directory that is removed at the end.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chatseal::twitchsim::lines::{privmsg, Chatter};
use chatseal_actors::format::{claim_id, claim_leaf, parse_hash, participation_leaf, user_hash, Hash32};
use chatseal_actors::sealer::bundle::verify_bundle;
use chatseal_actors::sealer::limits::ProgramLimits;
use chatseal_actors::sealer::merkle::{verify, MerkleTree};
use chatseal_schema::Store;

use crate::harness::*;

/// Epoch length in seconds.
const LEN: i64 = 3;
/// Tree shapes 1..=SHAPES leaves, one channel each.
const SHAPES: usize = 33;
/// Participants of the large channel.
const BIG: usize = 5_000;
/// Lines per `feed` call for the large channel.
const CHUNK: usize = 250;
/// In the large tree, every PROOF_STRIDE-th proof is verified (and the last, at the odd end).
const PROOF_STRIDE: usize = 37;

fn shape_channel(k: usize) -> String {
    format!("xcshape{k:02}")
}

const BIG_CHANNEL: &str = "xcbig";

/// The lines of `n` distinct chatters in `channel` during `epoch`, with varied first_seen (ties
/// within a second too, so the user_hash tie-break is exercised) and some bits (varied amounts).
/// Logins carry `tag`, so no two channels share a chatter.
fn lines_for(channel: &str, tag: &str, n: usize, epoch: i64) -> Vec<String> {
    (0..n)
        .map(|i| {
            let login = format!("xc{tag}u{i:05}");
            let who = Chatter::new(&login, &format!("{}", 7_000_000 + i), &login.to_uppercase());
            let ts_ms = epoch * 1000 + ((i as i64 * 131 + n as i64 * 17) % (LEN * 1000));
            let bits = (i % 3 == 1).then_some(10 * (i as u64 % 7 + 1));
            privmsg(channel, &who, &format!("xc-{channel}-{i}"), ts_ms, "hi", bits)
        })
        .collect()
}

/// Where the fixtures go, and the temp dir guard when none was named.
fn fixture_dir() -> (PathBuf, Option<tempfile::TempDir>) {
    match std::env::var_os("CHATSEAL_CROSSCHECK_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create fixture dir {}: {e}", dir.display()));
            (dir, None)
        }
        None => {
            let tmp = tempfile::tempdir().expect("temp fixture dir");
            (tmp.path().to_path_buf(), Some(tmp))
        }
    }
}

fn hex0x(h: &str) -> String {
    format!("0x{h}")
}

fn parse(h: &str, what: &str) -> Hash32 {
    parse_hash(h).unwrap_or_else(|e| panic!("stored {what} {h:?} is not a hash: {e}"))
}

/// Checks that `leaves` fold to `root` with our tree and that proofs verify: every proof of a
/// small tree; in a large one (unoptimised test build) the ends and every PROOF_STRIDE-th index.
fn check_tree(name: &str, leaves: &[Hash32], root: &Hash32) {
    let tree = MerkleTree::build(leaves.to_vec()).unwrap_or_else(|| panic!("{name}: sealed with no leaves"));
    assert_eq!(&tree.root(), root, "{name}: stored leaves fold to the stored root");
    let last = leaves.len() - 1;
    let sampled = |i: usize| leaves.len() <= SHAPES || i.is_multiple_of(PROOF_STRIDE) || i == last;
    for (i, leaf) in leaves.iter().enumerate().filter(|(i, _)| sampled(*i)) {
        let proof = tree.proof(i).unwrap_or_else(|| panic!("{name}: proof of index {i}"));
        assert!(verify(root, leaf, &proof), "{name}: proof of index {i} verifies");
    }
}

fn write_fixture(dir: &Path, name: &str, epoch: i64, leaves: &[String], root: &str) {
    let body = serde_json::json!({
        "name": name,
        "epoch": epoch,
        "leaves": leaves.iter().map(|l| hex0x(l)).collect::<Vec<_>>(),
        "root": hex0x(root),
    });
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, body.to_string()).unwrap_or_else(|e| panic!("write fixture {}: {e}", path.display()));
}

/// Reads the seal of (`epoch`, `channel`) from the store, checks it, writes its two fixtures.
async fn check_and_write(store: &Store, dir: &Path, epoch: i64, channel: &str, expected: usize) {
    let seal =
        store.sealed_epoch(epoch, channel).await.expect("read seal").unwrap_or_else(|| panic!("#{channel} sealed"));
    let rows = store.sealed_participants(epoch, channel).await.expect("read sealed participants");
    assert_eq!(rows.len(), expected, "#{channel}: every chatter sealed");
    assert_eq!(seal.participants, expected as i64, "#{channel}: participant count of the seal");
    let (Some(root), Some(claim_root)) = (&seal.root, &seal.claim_root) else {
        panic!("#{channel}: sealed with participants but without roots: {seal:?}");
    };
    let mut leaves = Vec::with_capacity(rows.len());
    let mut claim_leaves = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.idx, i as i64, "#{channel}: indexes are 0..n in order");
        let uh = parse(&r.user_hash, "user_hash");
        assert_eq!(uh, user_hash(&r.login), "#{channel}: user_hash of {}", r.login);
        let leaf = parse(&r.leaf, "leaf");
        assert_eq!(leaf, participation_leaf(&uh, channel, epoch as u64), "#{channel}: leaf of {}", r.login);
        let amount: u64 = r.amount.parse().unwrap_or_else(|e| panic!("#{channel}: amount {:?}: {e}", r.amount));
        let cl = parse(&r.claim_leaf, "claim_leaf");
        assert_eq!(
            cl,
            claim_leaf(i as u32, amount, &claim_id(channel, &r.login)),
            "#{channel}: claim leaf of {}",
            r.login
        );
        leaves.push(leaf);
        claim_leaves.push(cl);
    }
    check_tree(&format!("#{channel} participation"), &leaves, &parse(root, "root"));
    check_tree(&format!("#{channel} claim"), &claim_leaves, &parse(claim_root, "claim_root"));

    let leaf_hex: Vec<String> = rows.iter().map(|r| r.leaf.clone()).collect();
    let claim_hex: Vec<String> = rows.iter().map(|r| r.claim_leaf.clone()).collect();
    write_fixture(dir, &format!("{channel}-n{expected}-participation"), epoch, &leaf_hex, root);
    write_fixture(dir, &format!("{channel}-n{expected}-claim"), epoch, &claim_hex, claim_root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crosscheck_fixtures_from_sealed_trees() {
    let (dir, _guard) = fixture_dir();
    let db = tempfile::tempdir().unwrap();
    let store_url = sqlite_url(db.path());
    let fake = fake_twitch().await;

    let mut plan: Vec<(String, String, usize)> =
        (1..=SHAPES).map(|k| (shape_channel(k), format!("{k:02}"), k)).collect();
    plan.push((BIG_CHANNEL.to_owned(), "big".to_owned(), BIG));
    let channels: Vec<&str> = plan.iter().map(|(c, _, _)| c.as_str()).collect();
    let s = settings_for(
        &fake,
        &store_url,
        &channels,
        &[
            ("CHATSEAL__EPOCH__LENGTH", "3s"),
            ("CHATSEAL__EPOCH__GRACE", "3s"),
            ("CHATSEAL__TWITCH__JOINS_PER_WINDOW", "20"),
            ("CHATSEAL__TWITCH__JOIN_WINDOW", "1s"),
        ],
    );
    let daemon = Daemon::start(s).await;
    for c in &channels {
        assert!(fake.wait_joined(c, Duration::from_secs(20)).await, "daemon joined #{c}");
    }

    // The next whole epoch: its lines are sent now and count by tmi-sent-ts (within max_skew);
    // it is sealed at its end + grace, at least LEN + grace seconds from here.
    let epoch = (now_ms() / 1000).div_euclid(LEN) * LEN + LEN;
    for (channel, tag, n) in &plan {
        for chunk in lines_for(channel, tag, *n, epoch).chunks(CHUNK) {
            let bytes: String = chunk.iter().map(|l| format!("{l}\r\n")).collect();
            assert_eq!(fake.feed(channel, bytes).await, 1, "#{channel}: one joined connection got the lines");
        }
    }

    for (channel, _, n) in &plan {
        let url = format!("{}/v1/epochs/{epoch}/{channel}", daemon.base);
        let body = wait_for(&format!("seal of {epoch} #{channel}"), Duration::from_secs(30), || async {
            let (status, body) = get_json(&url).await;
            (status == 200).then_some(body)
        })
        .await;
        assert_eq!(body["participants"].as_i64(), Some(*n as i64), "#{channel}: {body}");
    }
    // The publish bundle of every tree, as the route streams it: checked here by the verifier
    // (and the large one by the real `chatseal verify-export`), and left for crosscheck.mjs.
    let bundles = dir.join("bundles");
    std::fs::create_dir_all(&bundles).unwrap_or_else(|e| panic!("create {}: {e}", bundles.display()));
    for (channel, _, n) in &plan {
        let url = format!("{}/v1/epochs/{epoch}/{channel}/export", daemon.base);
        let resp = reqwest::get(&url).await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert_eq!(resp.status().as_u16(), 200, "{url}");
        let body = resp.bytes().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let v = verify_bundle(&body[..], &ProgramLimits::default())
            .unwrap_or_else(|e| panic!("#{channel}: the bundle does not verify: {e}"));
        assert_eq!((v.participants, v.claim_count), (*n, *n), "#{channel}");
        let path = bundles.join(format!("{channel}-n{n}.bundle.json"));
        std::fs::write(&path, &body).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        if *n == BIG {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_chatseal"))
                .args(["verify-export", path.to_str().expect("utf-8 path"), "--max-proof-len", "13"])
                .output()
                .expect("run chatseal verify-export");
            assert!(
                out.status.success(),
                "verify-export of #{channel}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    daemon.stop().await.expect("graceful stop");
    fake.shutdown().await;

    let store = Store::open(&store_url).await.expect("open store");
    for (channel, _, n) in &plan {
        check_and_write(&store, &dir, epoch, channel, *n).await;
    }
    eprintln!("crosscheck: {} fixtures of epoch {epoch} in {}", 2 * plan.len(), dir.display());
}

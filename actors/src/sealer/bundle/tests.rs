//! Bundles written from real seals (built by `build_seal`) verify, for every small tree shape;
//! every tampering the issue lists is caught, and each changed value inside an entry is
//! reported against that entry; opted-out users are not named anywhere.

use std::collections::HashSet;

use chatseal_schema::{ParticipantRow, SealedEpoch, SignalKind, Signals};
use serde_json::Value;

use super::*;
use crate::format::{to_hex, user_hash};
use crate::sealer::build::{build_seal, SealConfig};
use crate::sealer::limits::ProgramLimits;
use crate::sealer::merkle::{verify, CentiWeights, MerkleTree};

const EPOCH: i64 = 1_761_753_600;
const CHANNEL: &str = "jasontheween";

fn login(i: usize) -> String {
    format!("viewer_{i:04}")
}

/// A seal of `n` participants (varied bits, so amounts differ) with a claim cap, and its bundle
/// text; the logins in `hidden` opted out after the seal.
fn bundle(n: usize, cap: Option<u32>, hidden: &[usize], limits: &ProgramLimits) -> (Bundle, String) {
    let rows: Vec<ParticipantRow> = (0..n)
        .map(|i| ParticipantRow {
            user_hash: to_hex(&user_hash(&login(i))),
            login: login(i),
            first_seen: EPOCH + (i as i64 * 7) % 50,
            last_seen: EPOCH + 60,
            signals: Signals::default().with(SignalKind::Message, 1).with(SignalKind::Bits, (i as i64 % 4) * 25),
        })
        .collect();
    let cfg = SealConfig {
        weights: CentiWeights::default(),
        reward_per_weight: 80,
        decimals: 9,
        excluded: HashSet::new(),
        max_claim_leaves: cap,
        exclude_broadcaster: false,
    };
    let seal = build_seal(EPOCH, CHANNEL, rows, &cfg, &HashSet::new(), 1.0, EPOCH + 3720).expect("build seal");
    let sealed = SealedEpoch {
        epoch: EPOCH,
        channel: CHANNEL.into(),
        root: seal.root.clone(),
        claim_root: seal.claim_root.clone(),
        participants: seal.participants.len() as i64,
        coverage: 1.0,
        digest: String::new(),
        sealed_at: seal.sealed_at,
        format_version: seal.format_version,
        claim_cut: seal.claim_cut,
    };
    let opted: HashSet<String> = hidden.iter().map(|i| to_hex(&user_hash(&login(*i)))).collect();
    let b = Bundle::prepare(&sealed, seal.participants, &opted, limits).expect("prepare");
    let mut out = Vec::new();
    b.write_all(&mut out).expect("write");
    (b, String::from_utf8(out).expect("utf-8"))
}

fn check(text: &str) -> Result<Verified, VerifyError> {
    verify_bundle(text.as_bytes(), &ProgramLimits::default())
}

fn edited(text: &str, f: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(text).expect("bundle is JSON");
    f(&mut v);
    v.to_string()
}

/// The entry a tampered bundle was refused for; panics when it was accepted or malformed.
fn refused_entry(text: &str) -> Option<usize> {
    match check(text) {
        Err(VerifyError::Invalid { entry, .. }) => entry,
        other => panic!("expected an invalid bundle, got {other:?}"),
    }
}

/// Flips the lowest bit of the character at `at` of a string value (keeps it ASCII).
fn flip_char(s: &str, at: usize) -> String {
    let mut b = s.as_bytes().to_vec();
    b[at] ^= 1;
    String::from_utf8(b).expect("ascii")
}

#[test]
fn every_tree_shape_verifies_and_matches_the_seal() {
    for n in (1..=33).chain([64, 65, 300]) {
        for (cap, hidden) in [(None, vec![]), (Some(((n as u32) / 2).max(1)), vec![0, n / 2])] {
            let (b, text) = bundle(n, cap, &hidden, &ProgramLimits::default());
            let v = check(&text).unwrap_or_else(|e| panic!("{n} leaves, cap {cap:?}: {e}"));
            assert_eq!(v.participants, n);
            assert_eq!(v.claim_count, cap.map_or(n, |c| (c as usize).min(n)));
            let hidden_set: HashSet<usize> = hidden.iter().copied().collect();
            assert_eq!(v.hidden, hidden_set.len());
            assert_eq!(b.hidden(), hidden_set.len());
            let doc: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(doc["root"].as_str().unwrap(), format!("0x{}", ::hex::encode(v.root)));
            // Each entry's proofs fold with the on-chain rule (checked here independently too).
            for e in doc["entries"].as_array().unwrap() {
                let leaf = crate::format::parse_hash(e["leaf"].as_str().unwrap()).unwrap();
                let proof: Vec<_> = e["proof"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| crate::format::parse_hash(p.as_str().unwrap()).unwrap())
                    .collect();
                assert!(verify(&v.root, &leaf, &proof));
            }
        }
    }
}

#[test]
fn the_header_carries_counts_total_dataset_hash_and_the_cap() {
    let (_, text) = bundle(10, Some(7), &[], &ProgramLimits::default());
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["format"], FORMAT);
    assert_eq!(
        (doc["participants"].as_u64(), doc["claim_count"].as_u64(), doc["claim_cut"].as_u64()),
        (Some(10), Some(7), Some(3))
    );
    let entries = doc["entries"].as_array().unwrap();
    let total: u128 = entries[..7].iter().map(|e| e["amount"].as_str().unwrap().parse::<u128>().unwrap()).sum();
    assert_eq!(doc["total_amount"].as_str().unwrap(), total.to_string());
    for e in &entries[7..] {
        assert!(e["amount"].is_null() && e["claim_leaf"].is_null() && e["claim_proof"].is_null(), "{e}");
        assert!(e["login"].is_string() && e["id"].is_string(), "a cut participant is still named: {e}");
    }
    let leaves: Vec<u8> = entries[..7]
        .iter()
        .flat_map(|e| crate::format::parse_hash(e["claim_leaf"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(
        doc["dataset_hash"].as_str().unwrap(),
        format!("0x{}", ::hex::encode(crate::format::keccak256(&leaves)))
    );
    assert_eq!(doc["max_proof_len"], 4);
    assert!(doc["warnings"][0].as_str().unwrap().starts_with("claim_cut:"), "{doc}");
    let claim = MerkleTree::build(
        entries[..7].iter().map(|e| crate::format::parse_hash(e["claim_leaf"].as_str().unwrap()).unwrap()).collect(),
    )
    .unwrap();
    assert_eq!(doc["claim_root"].as_str().unwrap(), format!("0x{}", ::hex::encode(claim.root())));
}

#[test]
fn an_opted_out_user_is_named_nowhere() {
    let who = login(3);
    let (_, text) = bundle(8, None, &[3], &ProgramLimits::default());
    assert!(!text.contains(&who), "the login appears in the bundle");
    assert!(!text.contains(&to_hex(&user_hash(&who))), "the user hash appears in the bundle");
    let doc: Value = serde_json::from_str(&text).unwrap();
    let e = &doc["entries"][3];
    let mut keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["claim_leaf", "claim_proof", "index", "leaf", "proof"]);
    // and the bundle still verifies (its total cannot be re-added, only bounded).
    check(&text).expect("valid with a hidden entry");
}

#[test]
fn a_changed_value_in_any_entry_field_names_that_entry() {
    let (_, text) = bundle(12, Some(10), &[5], &ProgramLimits::default());
    let doc: Value = serde_json::from_str(&text).unwrap();
    for i in 0..12 {
        let entry = doc["entries"][i].as_object().unwrap().clone();
        for (key, value) in entry {
            let tampered: Vec<Value> = match &value {
                Value::Null => continue,
                Value::Number(n) => vec![Value::from(n.as_u64().unwrap() ^ 1)],
                Value::String(s) => {
                    (0..s.len()).step_by(7).chain([s.len() - 1]).map(|at| Value::from(flip_char(s, at))).collect()
                }
                Value::Array(a) => (0..a.len())
                    .flat_map(|k| {
                        let s = a[k].as_str().unwrap().to_string();
                        [2, 40, 65].into_iter().map(move |at| (k, flip_char(&s, at)))
                    })
                    .map(|(k, s)| {
                        let mut a = a.clone();
                        a[k] = Value::from(s);
                        Value::Array(a)
                    })
                    .collect(),
                other => panic!("unexpected {other}"),
            };
            for t in tampered {
                let bad = edited(&text, |v| v["entries"][i][&key] = t.clone());
                assert_eq!(refused_entry(&bad), Some(i), "entry {i} field {key} = {t}: {:?}", check(&bad));
            }
        }
    }
}

#[test]
fn every_flipped_bit_inside_the_entries_is_caught() {
    // Three entries: one named in the claim tree, one opted out, one past the claim cap.
    let (_, text) = bundle(3, Some(2), &[1], &ProgramLimits::default());
    let start = text.find("\"entries\":[").unwrap() + 11;
    let end = text.len() - 3;
    let (mut invalid, mut malformed) = (0, 0);
    for at in start..end {
        for bit in 0..8 {
            let mut b = text.as_bytes().to_vec();
            b[at] ^= 1 << bit;
            match verify_bundle(b.as_slice(), &ProgramLimits::default()) {
                Ok(_) => panic!("a flip of bit {bit} at byte {at} ({:?}) was accepted", &text[at..at + 1]),
                Err(VerifyError::Invalid { .. }) => invalid += 1,
                Err(VerifyError::Malformed(_)) => malformed += 1,
            }
        }
    }
    assert!(invalid > 500 && malformed > 100, "{invalid} invalid, {malformed} malformed");
}

#[test]
fn dropped_duplicated_reordered_and_renumbered_entries_are_caught() {
    let (_, text) = bundle(9, None, &[4], &ProgramLimits::default());
    let dropped = edited(&text, |v| {
        v["entries"].as_array_mut().unwrap().remove(3);
    });
    assert_eq!(refused_entry(&dropped), Some(3));
    let last = edited(&text, |v| {
        v["entries"].as_array_mut().unwrap().pop();
    });
    assert!(matches!(check(&last), Err(VerifyError::Invalid { .. })), "the last entry dropped");
    let duplicated = edited(&text, |v| {
        let e = v["entries"][2].clone();
        v["entries"].as_array_mut().unwrap().insert(3, e);
    });
    assert_eq!(refused_entry(&duplicated), Some(3));
    let swapped_indexes = edited(&text, |v| {
        v["entries"][1]["index"] = 6.into();
        v["entries"][6]["index"] = 1.into();
    });
    assert_eq!(refused_entry(&swapped_indexes), Some(1));
    // Two hidden-only entries swapped AND renumbered: each proof still folds, but not at its place.
    let (_, text) = bundle(9, None, &[2, 7], &ProgramLimits::default());
    let moved = edited(&text, |v| {
        let a = v["entries"].as_array_mut().unwrap();
        a.swap(2, 7);
        a[2]["index"] = 2.into();
        a[7]["index"] = 7.into();
    });
    assert_eq!(refused_entry(&moved), Some(2));
}

#[test]
fn wrong_header_values_are_caught() {
    let (_, text) = bundle(9, Some(6), &[], &ProgramLimits::default());
    let doc: Value = serde_json::from_str(&text).unwrap();
    let total: u128 = doc["total_amount"].as_str().unwrap().parse().unwrap();
    for (key, value) in [
        ("total_amount", Value::from((total + 1).to_string())),
        ("total_amount", Value::from((total - 1).to_string())),
        ("participants", Value::from(10)),
        ("claim_count", Value::from(5)),
        ("claim_cut", Value::from(2)),
        ("max_proof_len", Value::from(3)),
        ("dataset_hash", Value::from(flip_char(doc["dataset_hash"].as_str().unwrap(), 30))),
        ("channel_key", Value::from(flip_char(doc["channel_key"].as_str().unwrap(), 30))),
        ("root", Value::from(flip_char(doc["root"].as_str().unwrap(), 30))),
        ("claim_root", Value::from(flip_char(doc["claim_root"].as_str().unwrap(), 30))),
        ("channel", Value::from("jasontheweem")),
        ("epoch", Value::from(EPOCH + 3600)),
    ] {
        let bad = edited(&text, |v| v[key] = value.clone());
        assert!(matches!(check(&bad), Err(VerifyError::Invalid { .. })), "{key} = {value}: {:?}", check(&bad));
    }
    // With a hidden claim entry the total can only be bounded from below.
    let (_, text) = bundle(9, None, &[1], &ProgramLimits::default());
    let known: u128 = serde_json::from_str::<Value>(&text).unwrap()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["amount"].as_str())
        .map(|a| a.parse::<u128>().unwrap())
        .sum();
    let low = edited(&text, |v| v["total_amount"] = Value::from((known - 1).to_string()));
    assert!(matches!(check(&low), Err(VerifyError::Invalid { entry: None, .. })));
}

#[test]
fn the_program_limits_are_checked_when_given() {
    let (_, text) = bundle(40, None, &[], &ProgramLimits::default());
    let ok = ProgramLimits { max_claim_leaves: Some(40), max_proof_len: Some(6) };
    verify_bundle(text.as_bytes(), &ok).expect("within both limits");
    let short = ProgramLimits { max_claim_leaves: None, max_proof_len: Some(5) };
    assert!(matches!(verify_bundle(text.as_bytes(), &short), Err(VerifyError::Invalid { entry: Some(0), .. })));
    let few = ProgramLimits { max_claim_leaves: Some(39), max_proof_len: None };
    let e = verify_bundle(text.as_bytes(), &few).unwrap_err();
    assert!(e.to_string().contains("40 claims") && e.to_string().contains("--max-claims 39"), "{e}");
    // A proof made longer than the tree by an appended node is caught even without a limit.
    let long = edited(&text, |v| {
        let root = v["root"].clone();
        v["entries"][3]["proof"].as_array_mut().unwrap().push(root);
    });
    assert_eq!(refused_entry(&long), Some(3));
}

#[test]
fn malformed_input_is_told_apart_from_an_invalid_bundle() {
    let (_, text) = bundle(3, None, &[], &ProgramLimits::default());
    for bad in [
        String::new(),
        "{".into(),
        "[]".into(),
        text.replace(FORMAT, "chatseal-bundle-2"),
        text.replace("\"index\":1", "\"index\":\"1\""),
        text.replace("\"claim_count\"", "\"claims\""),
    ] {
        assert!(matches!(check(&bad), Err(VerifyError::Malformed(_))), "{:?}", check(&bad));
    }
    let truncated = &text[..text.len() / 2];
    let e = check(truncated).unwrap_err();
    assert!(matches!(e, VerifyError::Malformed(_)), "{e}");
}

#[test]
fn warnings_reach_the_bundle() {
    let limits = ProgramLimits { max_claim_leaves: None, max_proof_len: Some(4) };
    let (b, text) = bundle(17, None, &[], &limits);
    assert_eq!(b.warnings().len(), 2, "{:?}", b.warnings());
    let v = check(&text).unwrap();
    assert_eq!(v.warnings, b.warnings());
    assert!(v.warnings[0].contains("participation proofs are 5 nodes"), "{:?}", v.warnings);
}

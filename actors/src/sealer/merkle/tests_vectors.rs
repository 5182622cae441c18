//! The tree vectors of `shared/spec/merkle.md` (the plain and wallet-bound claim trees with
//! their proofs), byte for byte. The leaf and identity vectors are in `format::tests_vectors`.

use super::*;
use crate::format::{claim_id, claim_leaf, keccak256, parse_hash, wallet_claim_leaf, Hash32};

fn h(s: &str) -> Hash32 {
    parse_hash(s).expect("test vector is valid hex")
}

const AMOUNTS: [u64; 5] = [10000, 15000, 20000, 12500, 18000];
const LOGINS: [&str; 5] = ["alice", "bob", "charlie", "dave", "eve"];

fn claim_ids() -> Vec<String> {
    LOGINS.iter().map(|l| claim_id("stableronaldo", l)).collect()
}

#[test]
fn claim_tree_vector() {
    let leaves: Vec<Hash32> =
        claim_ids().iter().enumerate().map(|(i, id)| claim_leaf(i as u32, AMOUNTS[i], id)).collect();
    assert_eq!(leaves[0], h("940e0313a9a961801c16eb013ee48acda732d92c826862379e81306ff54e13ea"));
    let tree = MerkleTree::build(leaves.clone()).expect("five leaves");
    assert_eq!(tree.root(), h("43423ecf1b192af45b9d20964af7dd85d7bc7527c7ceda70745a4e8724680e11"));
    let leaf4 = leaves[4];
    let expected = vec![
        leaf4,
        keccak256(&[leaf4, leaf4].concat()),
        h("181072b8f6649bebf278b8eb099cbc70115c45dd6447bc85bb620255cefd14fa"),
    ];
    assert_eq!(tree.proof(4), Some(expected.clone()));
    assert!(verify(&tree.root(), &leaf4, &expected));
    // The merkletreejs-style proof without the self-sibling fails the on-chain fold.
    assert!(!verify(&tree.root(), &leaf4, &expected[1..]));
}

#[test]
fn wallet_bound_claim_tree_vector() {
    let claimer = h("1af8e7e6e1904ed7f39fcd626a15b111067b7a88f21c8c7c3b1f8aa75e508116");
    let leaves: Vec<Hash32> =
        claim_ids().iter().enumerate().map(|(i, id)| wallet_claim_leaf(&claimer, i as u32, AMOUNTS[i], id)).collect();
    assert_eq!(leaves[0], h("7a9d9cc6022a04edd7d4f0c71202f13619e07245aa3f9d9eb68c1ce3e085bebd"));
    let tree = MerkleTree::build(leaves.clone()).expect("five leaves");
    assert_eq!(tree.root(), h("782d2060c46e129f4c4842b043e3b015a3e468526cabef7f6f2bb59720c12c00"));
    let expected = vec![
        h("0b33b6f719a8a94d84aacdb7181aadca7d9941651e63138b50131df3f20ba611"),
        h("9eae19d48bf7a2897c0bd95b0895851e32f9cc9bbf70719466afeffa8f317101"),
        h("90d67732cc36915e3bdcbbebbc8c240d2a1e8d1ad83001ded986b8c1c4de23bf"),
    ];
    assert_eq!(tree.proof(0), Some(expected.clone()));
    assert!(verify(&tree.root(), &leaves[0], &expected));
}

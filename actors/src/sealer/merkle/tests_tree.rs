//! Tree shapes 1..=33 against an independent recursive reference, proof soundness (every proof
//! verifies; a flipped byte or a wrong index fails), and a property test over random leaf sets.

use super::*;
use crate::format::{hash_pair, keccak256, Hash32};
use proptest::prelude::*;
use sha3::{Digest, Keccak256};

/// Distinct, deterministic leaves.
fn leaves(n: usize) -> Vec<Hash32> {
    (0..n).map(|i| keccak256(format!("leaf-{i}").as_bytes())).collect()
}

/// Reference root, written from the spec without the module's helpers: pair left to right,
/// duplicate an odd last node, sort each pair byte-wise, recurse until one node remains.
fn reference_root(level: &[Hash32]) -> Hash32 {
    if level.len() == 1 {
        return level[0];
    }
    let mut next = Vec::new();
    let mut i = 0;
    while i < level.len() {
        let a = level[i];
        let b = if i + 1 < level.len() { level[i + 1] } else { a };
        let (first, second) = if b < a { (b, a) } else { (a, b) };
        let mut hasher = Keccak256::new();
        hasher.update(first);
        hasher.update(second);
        next.push(hasher.finalize().into());
        i += 2;
    }
    reference_root(&next)
}

fn flip(mut h: Hash32, byte: usize) -> Hash32 {
    h[byte % 32] ^= 0x01;
    h
}

#[test]
fn zero_leaves_build_no_tree() {
    assert!(MerkleTree::build(Vec::new()).is_none());
}

#[test]
fn one_leaf_tree_is_its_leaf_with_empty_proof() {
    let leaf = keccak256(b"only");
    let tree = MerkleTree::build(vec![leaf]).expect("one leaf");
    assert_eq!(tree.root(), leaf);
    assert_eq!(tree.proof(0), Some(Vec::new()));
    assert!(verify(&leaf, &leaf, &[]));
    assert!(!verify(&leaf, &flip(leaf, 0), &[]));
}

#[test]
fn roots_match_reference_for_sizes_1_to_33() {
    for n in 1..=33 {
        let input = leaves(n);
        let tree = MerkleTree::build(input.clone()).expect("non-empty");
        assert_eq!(tree.root(), reference_root(&input), "size {n}");
        assert_eq!(tree.len(), n);
        assert_eq!(tree.leaves(), input.as_slice());
        assert_eq!(tree.leaf(n - 1), Some(input[n - 1]));
        assert_eq!(tree.leaf(n), None);
        assert_eq!(tree.proof(n), None);
    }
}

#[test]
fn every_proof_verifies_and_tampering_fails_for_sizes_1_to_33() {
    for n in 1..=33 {
        let input = leaves(n);
        let tree = MerkleTree::build(input.clone()).expect("non-empty");
        let root = tree.root();
        let expected_depth = (n as f64).log2().ceil() as usize;
        for (i, leaf) in input.iter().enumerate() {
            let proof = tree.proof(i).expect("index in range");
            assert_eq!(proof.len(), expected_depth, "size {n} index {i}");
            assert!(verify(&root, leaf, &proof), "size {n} index {i}");
            assert!(!verify(&root, &flip(*leaf, i), &proof), "flipped leaf, size {n} index {i}");
            assert!(!verify(&flip(root, i + 7), leaf, &proof), "flipped root, size {n} index {i}");
            for k in 0..proof.len() {
                let mut tampered = proof.clone();
                tampered[k] = flip(tampered[k], i + k);
                assert!(!verify(&root, leaf, &tampered), "flipped proof[{k}], size {n} index {i}");
            }
            for j in (0..n).filter(|&j| j != i) {
                let other = tree.proof(j).expect("index in range");
                assert!(!verify(&root, leaf, &other), "proof of {j} for leaf {i}, size {n}");
            }
        }
    }
}

#[test]
fn odd_end_proof_carries_the_node_itself() {
    // Three leaves: leaf 2 pairs with itself at level 0.
    let input = leaves(3);
    let tree = MerkleTree::build(input.clone()).expect("non-empty");
    let proof = tree.proof(2).expect("index in range");
    assert_eq!(proof[0], input[2]);
    assert_eq!(proof[1], hash_pair(&input[0], &input[1]));
}

#[test]
fn hash_pair_is_sorted() {
    let a = keccak256(b"a");
    let b = keccak256(b"b");
    assert_eq!(hash_pair(&a, &b), hash_pair(&b, &a));
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    assert_eq!(hash_pair(&a, &b), keccak256(&[lo, hi].concat()));
}

proptest! {
    #[test]
    fn random_leaf_sets_all_proofs_verify(
        input in prop::collection::vec(any::<[u8; 32]>(), 1..200)
    ) {
        let tree = MerkleTree::build(input.clone()).expect("non-empty");
        let root = tree.root();
        prop_assert_eq!(root, reference_root(&input));
        for (i, leaf) in input.iter().enumerate() {
            let proof = tree.proof(i).expect("index in range");
            prop_assert!(verify(&root, leaf, &proof), "index {}", i);
        }
    }
}

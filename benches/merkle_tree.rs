//! Merkle tree benchmarks: building the tree of a very large channel-epoch (1,000,000 leaves,
//! about 2 M keccak calls; target well under 1 s), and serving one proof of a 100,000-leaf
//! tree together with its on-chain verification fold.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or bench: a panic is its failure report

use std::hint::black_box;

use chatseal_actors::format::{participation_leaf, user_hash, Hash32};
use chatseal_actors::sealer::merkle::{verify, MerkleTree};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

const EPOCH: u64 = 1_761_753_600;

/// Realistic participation leaves for `n` distinct users of one channel-epoch.
fn leaves(n: usize) -> Vec<Hash32> {
    (0..n).map(|i| participation_leaf(&user_hash(&format!("viewer{i}")), "benchchannel", EPOCH)).collect()
}

fn build_million(c: &mut Criterion) {
    let input = leaves(1_000_000);
    let mut group = c.benchmark_group("merkle_build");
    group.sample_size(10);
    group.bench_function("build_1m_leaves", |b| {
        b.iter_batched(|| input.clone(), |leaves| black_box(MerkleTree::build(leaves)), BatchSize::LargeInput)
    });
    group.finish();
}

fn proof_and_verify(c: &mut Criterion) {
    let Some(tree) = MerkleTree::build(leaves(100_000)) else {
        return;
    };
    let root = tree.root();
    let index = 77_777;
    let Some(leaf) = tree.leaf(index) else {
        return;
    };
    c.bench_function("proof_and_verify_100k_leaves", |b| {
        b.iter(|| {
            let proof = tree.proof(black_box(index)).unwrap_or_default();
            assert!(verify(&root, &leaf, &proof));
        })
    });
}

criterion_group!(benches, build_million, proof_and_verify);
criterion_main!(benches);

// Independent cross-check of chatseal's sealed roots (shared/spec/merkle.md, "Independent
// check"): every fixture that the e2e test `crosscheck` wrote from leaves the daemon sealed is
// rebuilt with merkletreejs {sortPairs: true, duplicateOdd: true} over the keccak256 package,
// and its root must equal the root the daemon sealed. Proofs are NOT compared: merkletreejs
// leaves the self-sibling out at an odd end, ours keep it (the on-chain fold needs it).
//
// The publish bundles in FIXTURE_DIR/bundles are checked the same way: both roots rebuilt from
// their entries, every leaf re-derived from login, amount and id, every proof folded.
//
// Usage: node crosscheck.mjs FIXTURE_DIR
// Fixture: {"name": "...", "leaves": ["0x<64 hex>", ...], "root": "0x<64 hex>"}.
// Prints one line per check and a closing line "N passed, M failed"; exits 1 on any failure
// or when the directory holds no fixture, 2 on a usage error.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { MerkleTree } = require('merkletreejs');
const keccak256 = require('keccak256');

const OPTIONS = Object.freeze({ sortPairs: true, duplicateOdd: true, hashLeaves: false });
const HASH = /^0x[0-9a-f]{64}$/;
const ODD_SIBLING = '181072b8f6649bebf278b8eb099cbc70115c45dd6447bc85bb620255cefd14fa';

/** The root merkletreejs builds over `leaves` (Buffers), as 0x-hex. */
function rootOf(leaves, options = OPTIONS) {
  return new MerkleTree(leaves, keccak256, options).getHexRoot();
}

/** The on-chain fold of merkle.md: h = keccak256(min(h, s) ‖ max(h, s)) for each sibling s. */
function fold(leaf, proof) {
  return proof.reduce((h, s) => keccak256(Buffer.compare(h, s) <= 0 ? Buffer.concat([h, s]) : Buffer.concat([s, h])), leaf);
}

/** The merkle.md claim-tree vector, leaves computed here from ids, amounts and indexes. */
function claimVector() {
  const ids = ['alice', 'bob', 'charlie', 'dave', 'eve'].map((u) => `twitch:stableronaldo:${u}`);
  const amounts = [10000n, 15000n, 20000n, 12500n, 18000n];
  const leaves = ids.map((id, index) => {
    const head = Buffer.alloc(12);
    head.writeUInt32LE(index, 0);
    head.writeBigUInt64LE(amounts[index], 4);
    return keccak256(Buffer.concat([head, Buffer.from(id, 'utf8')]));
  });
  // merkle.md's proof of index 4 (the odd end) keeps the self-siblings; merkletreejs' does not.
  const oddProof = [leaves[4], keccak256(Buffer.concat([leaves[4], leaves[4]])), Buffer.from(ODD_SIBLING, 'hex')];
  return {
    leaf0: '0x' + leaves[0].toString('hex'),
    oddEndFold: '0x' + fold(leaves[4], oddProof).toString('hex'),
    theirOddEndProofLength: new MerkleTree(leaves, keccak256, OPTIONS).getProof(leaves[4]).length,
    root: rootOf(leaves),
    // the same leaves without duplicateOdd: must differ, or the vector proves nothing
    rootWithoutDuplicateOdd: rootOf(leaves, { ...OPTIONS, duplicateOdd: false }),
  };
}

/** Checks one fixture file; returns an error message, or null when it passes. */
function checkFixture(path) {
  let fx;
  try {
    fx = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    return `cannot read or parse: ${e.message}`;
  }
  if (typeof fx.name !== 'string' || !Array.isArray(fx.leaves) || typeof fx.root !== 'string') {
    return 'not a fixture: want {"name": string, "leaves": [hex...], "root": hex}';
  }
  if (fx.leaves.length === 0) return 'no leaves: an empty channel-epoch has no tree';
  const bad = [fx.root, ...fx.leaves].find((h) => typeof h !== 'string' || !HASH.test(h));
  if (bad !== undefined) return `not a 0x-prefixed 64-hex hash: ${JSON.stringify(bad)}`;
  const got = rootOf(fx.leaves.map((h) => Buffer.from(h.slice(2), 'hex')));
  return got === fx.root ? null : `root mismatch over ${fx.leaves.length} leaves: sealed ${fx.root}, merkletreejs ${got}`;
}

const hex = (b) => '0x' + b.toString('hex');
const bytes = (h) => Buffer.from(h.slice(2), 'hex');

/** Checks one publish bundle (merkle.md, "Publish bundle") without chatseal's code: both roots
 * rebuilt by merkletreejs from the entries, every named entry's user hash, leaf and claim leaf
 * re-derived from its login, amount and id, every proof folded, the dataset hash, channel key
 * and total recomputed. Returns an error message, or null when it passes. */
function checkBundle(path) {
  let b;
  try {
    b = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    return `cannot read or parse: ${e.message}`;
  }
  if (b.format !== 'chatseal-bundle-1' || !Array.isArray(b.entries) || b.entries.length === 0) return 'not a chatseal-bundle-1 with entries';
  const leaves = b.entries.map((e) => bytes(e.leaf));
  const claimEntries = b.entries.filter((e) => e.claim_leaf !== null);
  const claimLeaves = claimEntries.map((e) => bytes(e.claim_leaf));
  if (rootOf(leaves) !== b.root) return `root: merkletreejs ${rootOf(leaves)}, bundle ${b.root}`;
  if (rootOf(claimLeaves) !== b.claim_root) return `claim_root: merkletreejs ${rootOf(claimLeaves)}, bundle ${b.claim_root}`;
  if (hex(keccak256(Buffer.from(`twitch:${b.channel}`, 'utf8'))) !== b.channel_key) return 'channel_key';
  if (hex(keccak256(Buffer.concat(claimLeaves))) !== b.dataset_hash) return 'dataset_hash';
  if (b.participants !== b.entries.length || b.claim_count !== claimEntries.length) return 'counts';
  let total = 0n;
  for (const [i, e] of b.entries.entries()) {
    if (e.index !== i) return `entry ${i}: index ${e.index}`;
    if (hex(fold(leaves[i], e.proof.map(bytes))) !== b.root) return `entry ${i}: proof does not fold to the root`;
    if (e.claim_leaf !== null && hex(fold(bytes(e.claim_leaf), e.claim_proof.map(bytes))) !== b.claim_root) return `entry ${i}: claim proof does not fold`;
    if (e.login === undefined) continue;
    if (hex(keccak256(Buffer.from(e.login.toLowerCase(), 'utf8'))) !== e.user_hash) return `entry ${i}: user_hash`;
    const epoch = Buffer.alloc(8);
    epoch.writeBigUInt64LE(BigInt(b.epoch));
    if (hex(keccak256(Buffer.concat([bytes(e.user_hash), Buffer.from(b.channel, 'utf8'), epoch]))) !== e.leaf) return `entry ${i}: leaf`;
    if (e.id !== `twitch:${b.channel}:${e.login.toLowerCase()}`) return `entry ${i}: id`;
    if (e.claim_leaf === null) continue;
    const head = Buffer.alloc(12);
    head.writeUInt32LE(i, 0);
    head.writeBigUInt64LE(BigInt(e.amount), 4);
    if (hex(keccak256(Buffer.concat([head, Buffer.from(e.id, 'utf8')]))) !== e.claim_leaf) return `entry ${i}: claim_leaf`;
    total += BigInt(e.amount);
  }
  const hidden = b.entries.some((e) => e.login === undefined && e.claim_leaf !== null);
  if (!hidden && total.toString() !== b.total_amount) return `total_amount ${b.total_amount}, entries sum to ${total}`;
  return null;
}

function main() {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node crosscheck.mjs FIXTURE_DIR (the CHATSEAL_CROSSCHECK_DIR the e2e test wrote to)');
    process.exit(2);
  }
  let passed = 0;
  let failed = 0;
  const report = (name, error) => {
    if (error === null) {
      passed += 1;
      console.log(`ok    ${name}`);
    } else {
      failed += 1;
      console.log(`FAIL  ${name}: ${error}`);
    }
  };

  const v = claimVector();
  const wantLeaf0 = '0x940e0313a9a961801c16eb013ee48acda732d92c826862379e81306ff54e13ea';
  const wantRoot = '0x43423ecf1b192af45b9d20964af7dd85d7bc7527c7ceda70745a4e8724680e11';
  report('merkle.md claim vector leaf 0', v.leaf0 === wantLeaf0 ? null : `got ${v.leaf0}, want ${wantLeaf0}`);
  report('merkle.md claim vector root', v.root === wantRoot ? null : `got ${v.root}, want ${wantRoot}`);
  report('merkle.md odd-end proof of index 4 folds to the root', v.oddEndFold === wantRoot ? null : `folds to ${v.oddEndFold}`);
  console.log(`info  merkletreejs' proof of index 4 has ${v.theirOddEndProofLength} sibling(s), merkle.md's has 3: proofs differ by design`);
  report(
    'merkle.md claim vector tells duplicateOdd apart',
    v.rootWithoutDuplicateOdd !== wantRoot ? null : 'the root without duplicateOdd is the same: the vector checks nothing',
  );

  let files = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  } catch (e) {
    report(`fixtures in ${dir}`, `cannot list the directory: ${e.message}`);
  }
  for (const f of files) report(f.replace(/\.json$/, ''), checkFixture(join(dir, f)));
  if (files.length === 0) {
    report(`fixtures in ${dir}`, 'none found: run the e2e test `crosscheck` with CHATSEAL_CROSSCHECK_DIR set to it first');
  }

  // Publish bundles (bundles/*.bundle.json), written by the same e2e test from the export route.
  let bundles = [];
  try {
    bundles = readdirSync(join(dir, 'bundles')).filter((f) => f.endsWith('.bundle.json')).sort();
  } catch (e) {
    report(`bundles in ${join(dir, 'bundles')}`, `cannot list the directory: ${e.message}`);
  }
  for (const f of bundles) report(`bundle ${f.replace(/\.bundle\.json$/, '')}`, checkBundle(join(dir, 'bundles', f)));
  if (files.length > 0 && bundles.length === 0) report('bundles', 'none found beside the fixtures');

  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main();

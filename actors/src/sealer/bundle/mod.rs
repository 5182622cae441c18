//! The publish bundle of `shared/spec/merkle.md` ("Publish bundle"): everything an operator's
//! publisher needs to post a sealed root on chain and a claim front end needs to serve every
//! proof, in one JSON object per sealed (epoch, channel). `write` turns a seal's frozen rows
//! into that text entry by entry (memory bounded by the two trees, never by the text); `verify`
//! reads a bundle back as a stream, rebuilds both trees from its entries and checks every proof,
//! count, sum, hash and limit. Both use the one `merkle` module for leaves, trees and proofs.

mod verify;
mod write;

pub use verify::{verify_bundle, Verified, VerifyError};
pub use write::{Bundle, BundleError};

/// The `format` of every bundle this code writes and reads.
pub const FORMAT: &str = "chatseal-bundle-1";

#[cfg(test)]
mod tests;

//! Integration tests of chatseal-schema against real stores: every test runs on SQLite (a file
//! in a temporary directory) and on PostgreSQL (a fresh database on the local server, dropped
//! afterwards; `CHATSEAL_SKIP_PG=1` skips that half, an unreachable server fails the test).
//! The power-loss tests (`powercut`) are SQLite only: they need a VFS.
//! Run: `cargo test -p chatseal-schema`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or bench: a panic is its failure report

#[path = "store/channels.rs"]
mod channels;
#[path = "store/common.rs"]
mod common;
#[path = "store/compact.rs"]
mod compact;
#[path = "store/fence.rs"]
mod fence;
#[path = "store/flush.rs"]
mod flush;
#[path = "store/keyed.rs"]
mod keyed;
#[path = "store/open.rs"]
mod open;
#[path = "store/optout.rs"]
mod optout;
#[path = "store/powercut.rs"]
mod powercut;
#[path = "store/powercut_file.rs"]
mod powercut_file;
#[path = "store/powercut_overlay.rs"]
mod powercut_overlay;
#[path = "store/powercut_vfs.rs"]
mod powercut_vfs;
#[path = "store/publish.rs"]
mod publish;
#[path = "store/read.rs"]
mod read;
#[path = "store/seal.rs"]
mod seal;
#[path = "store/seen_ids.rs"]
mod seen_ids;
#[path = "store/user_epochs.rs"]
mod user_epochs;

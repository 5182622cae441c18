//! End-to-end tests: the real daemon against a fake Twitch server on loopback. One test target
//! with many modules (linking is the slow part of a Rust build).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or bench: a panic is its failure report

mod admin;
mod backup;
mod backup_layout;
mod backup_manifest;
mod backup_pg;
mod buffer_bound;
mod channel;
mod channel_set;
mod cluster;
mod cluster_smoke;
mod corruption;
#[cfg(feature = "failpoints")]
mod crashpoints;
mod crosscheck;
mod demo;
mod disk_full;
mod doctor;
mod durability;
mod epoch_length;
mod errors;
mod export;
mod harness;
mod http_limits;
mod ingest_rules;
mod invariants;
mod killloop;
mod migrate;
mod observability;
mod ownership;
mod sealing;
#[cfg(feature = "failpoints")]
mod shutdown_count;
mod skeleton;
mod startup_lines;
mod store_timeout;
#[cfg(feature = "failpoints")]
mod supervision;
mod tls;
mod user_epochs;
mod viewer_page;
mod wire_values;

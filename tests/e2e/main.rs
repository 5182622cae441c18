//! End-to-end tests: the real daemon against a fake Twitch server on loopback. One test target
//! with many modules (linking is the slow part of a Rust build).

mod admin;
mod backup;
mod backup_layout;
mod backup_pg;
mod channel;
mod channel_set;
mod cluster;
mod cluster_smoke;
mod corruption;
#[cfg(feature = "failpoints")]
mod crashpoints;
mod demo;
mod doctor;
mod durability;
mod crosscheck;
mod harness;
mod invariants;
mod killloop;
mod migrate;
mod observability;
mod ownership;
mod sealing;
#[cfg(feature = "failpoints")]
mod supervision;
mod skeleton;
mod tls;
mod errors;
mod http_limits;
mod startup_lines;
mod store_timeout;
mod wire_values;
mod ingest_rules;
mod backup_manifest;
#[cfg(feature = "failpoints")]
mod shutdown_count;
mod epoch_length;
mod user_epochs;
mod viewer_page;
mod export;

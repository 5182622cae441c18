//! One module per `chatseal` subcommand; each exposes a `run` returning the process exit code
//! (see [`crate::exit`]).

pub mod backup;
pub mod channels;
pub mod check_config;
pub mod demo;
pub mod doctor;
pub mod export;
pub mod migrate;
pub mod opt_out;
pub mod owner_guard;
pub mod proof;
pub mod replay;
pub mod restore;
pub mod restore_jsonl;
pub mod run;
pub mod seal;
pub mod setup;
pub mod verify;
pub mod verify_export;

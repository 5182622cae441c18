//! One module per `chatseal` subcommand; each exposes a `run` returning the process exit code
//! (see [`crate::exit`]).

pub mod check_config;
pub mod opt_out;
pub mod proof;
pub mod run;
pub mod seal;
pub mod verify;

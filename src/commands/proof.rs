//! `chatseal proof`: prints the proof JSON of a user, exactly as the HTTP API serves it.

use std::path::Path;

use super::setup;
use crate::exit::Exit;
use crate::proofs::{claim_proof, participation_proof, ProofError};

/// Runs `chatseal proof`: prints the participation proof of `user` in (`epoch`, `channel`), or
/// with `claim` the claim proof.
pub async fn main(config: Option<&Path>, epoch: i64, channel: &str, user: &str, claim: bool) -> Exit {
    let s = match setup::load_settings(config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let store = match setup::open_store(&s).await {
        Ok(st) => st,
        Err(code) => return code,
    };
    let out = if claim {
        claim_proof(&store, epoch, channel, user).await.map(|v| serde_json::to_string_pretty(&v))
    } else {
        participation_proof(&store, epoch, channel, user).await.map(|v| serde_json::to_string_pretty(&v))
    };
    match out {
        Ok(Ok(json)) => {
            println!("{json}");
            Exit::Ok
        }
        Ok(Err(e)) => {
            eprintln!("{e}");
            Exit::Internal
        }
        Err(e @ ProofError::Store(_)) => {
            eprintln!("{e}");
            Exit::Unavailable
        }
        Err(e) => {
            eprintln!("{{\"error\": \"{}\", \"message\": {}}}", e.code(), serde_json::Value::String(e.to_string()));
            Exit::Failed
        }
    }
}

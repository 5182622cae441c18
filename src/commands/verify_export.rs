//! `chatseal verify-export FILE [--max-claims N] [--max-proof-len N]`: checks a publish bundle
//! without trusting it (see `chatseal_actors::sealer::bundle::verify_bundle`). Needs no config
//! or store. Exit 0 valid, 1 invalid (naming the first bad entry), 64 malformed or unreadable.

use std::path::Path;

use chatseal_actors::sealer::bundle::{verify_bundle, VerifyError};
use chatseal_actors::sealer::limits::ProgramLimits;

use crate::exit::Exit;

/// Runs `chatseal verify-export`: checks the bundle in `file`, and its trees against
/// `max_claims` leaves and `max_proof_len` proof nodes where given.
pub fn run(file: &Path, max_claims: Option<u64>, max_proof_len: Option<u64>) -> Exit {
    let f = match std::fs::File::open(file) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cannot read the bundle {}: {e}", file.display());
            return Exit::Usage;
        }
    };
    let limits = ProgramLimits { max_claim_leaves: max_claims, max_proof_len };
    match verify_bundle(f, &limits) {
        Ok(v) => {
            for w in &v.warnings {
                eprintln!("warning (from the bundle): {w}");
            }
            println!(
                "valid: epoch {} #{}: {} entries ({} opted out, taken as given), claim tree {} (cut {}), total {}, longest proof {}, root 0x{}, claim_root 0x{}",
                v.epoch,
                v.channel,
                v.participants,
                v.hidden,
                v.claim_count,
                v.participants - v.claim_count,
                v.total_amount,
                v.max_proof_len,
                hex::encode(v.root),
                hex::encode(v.claim_root)
            );
            Exit::Ok
        }
        Err(e @ VerifyError::Invalid { .. }) => {
            println!("invalid: {e}");
            Exit::Failed
        }
        Err(e @ VerifyError::Malformed(_)) => {
            eprintln!("{e}");
            Exit::Usage
        }
    }
}

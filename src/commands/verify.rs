//! `chatseal verify`: checks a proof offline with the on-chain fold. Needs no config or store.

use chatseal_actors::format::parse_hash;
use chatseal_actors::sealer::merkle::verify;

use crate::exit::Exit;

/// Exit 0 valid, 1 invalid, 64 malformed input.
pub fn run(root: &str, leaf: &str, proof: &str) -> Exit {
    let parsed = (|| -> Result<_, String> {
        let root = parse_hash(root).map_err(|e| format!("--root: {e}"))?;
        let leaf = parse_hash(leaf).map_err(|e| format!("--leaf: {e}"))?;
        let siblings = proof
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
            .map(|(i, s)| parse_hash(s).map_err(|e| format!("--proof element {i}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((root, leaf, siblings))
    })();
    match parsed {
        Err(e) => {
            eprintln!("malformed input: {e}");
            Exit::Usage
        }
        Ok((root, leaf, siblings)) => {
            if verify(&root, &leaf, &siblings) {
                println!("valid");
                Exit::Ok
            } else {
                println!("invalid");
                Exit::Failed
            }
        }
    }
}

//! Exit codes of the binary (BSD sysexits), as documented in the interface: scripts and the
//! systemd unit (no restart on [`Exit::Config`]) depend on them. Every command returns an
//! [`Exit`]; only `main_entry` turns it into the process's exit status (and the second stop
//! signal, which exits at once by design).

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success: 0.
    Ok,
    /// The answer is no: an invalid proof or bundle (`verify`, `verify-export`), a bad or
    /// missing backup (`backup verify`), a refused restore, a failed `doctor` check, no proof
    /// or bundle for what was asked (not sealed, not a participant: `proof`, `export`): 1.
    Failed,
    /// The command line was malformed (EX_USAGE): 64.
    Usage,
    /// A store or the network could not be reached (EX_UNAVAILABLE): 69.
    Unavailable,
    /// An internal error: a bug or an invariant broken (EX_SOFTWARE): 70.
    Internal,
    /// The store is owned by another live daemon (EX_TEMPFAIL): 75; see
    /// `chatseal_schema::ownership`.
    Owned,
    /// The configuration is invalid (EX_CONFIG): 78.
    Config,
    /// A second SIGTERM/SIGINT while stopping: the process exits at once (128 + SIGINT): 130.
    Interrupted,
}

impl Exit {
    /// The process exit status.
    pub const fn code(self) -> i32 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Usage => 64,
            Exit::Unavailable => 69,
            Exit::Internal => 70,
            Exit::Owned => 75,
            Exit::Config => 78,
            Exit::Interrupted => 130,
        }
    }
}

/// The number, as printed in messages ("exit 70").
impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_ones() {
        // shared/spec/interface.md: 0 ok, 64 usage, 69 unavailable, 70 internal, 75 owned,
        // 78 config; 1 for a check that answers no (verify, verify-export, doctor, backup verify).
        let all = [
            (Exit::Ok, 0),
            (Exit::Failed, 1),
            (Exit::Usage, 64),
            (Exit::Unavailable, 69),
            (Exit::Internal, 70),
            (Exit::Owned, 75),
            (Exit::Config, 78),
            (Exit::Interrupted, 130),
        ];
        for (e, code) in all {
            assert_eq!(e.code(), code, "{e:?}");
            assert_eq!(e.to_string(), code.to_string());
        }
    }
}

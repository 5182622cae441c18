//! `chatseal check-config [--config FILE]`: load and validate the settings; print the effective
//! configuration with secrets redacted and exit 0, or print "invalid configuration:" with EVERY
//! problem on stderr and exit 78. Risky but valid settings (`Settings::warnings`) are printed on
//! stderr as `warning: ...` lines; they do not change the exit code.

use std::path::Path;

use crate::exit::Exit;
use crate::settings::{self, Settings, SettingsError};

/// What the command prints and returns, kept apart from the printing so it can be tested.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Exit code: [`Exit::Ok`] or [`Exit::Config`].
    pub code: Exit,
    /// Text for stdout: the redacted effective configuration as TOML.
    pub stdout: String,
    /// Text for stderr: the list of problems.
    pub stderr: String,
}

/// The outcome of a load.
pub fn outcome(loaded: Result<Settings, SettingsError>) -> Outcome {
    match loaded {
        Ok(settings) => Outcome {
            code: Exit::Ok,
            stdout: settings.redacted_toml(),
            stderr: settings.warnings().iter().map(|w| format!("warning: {w}\n")).collect(),
        },
        Err(e) => Outcome { code: Exit::Config, stdout: String::new(), stderr: format!("{e}\n") },
    }
}

/// Run the command against the file at `path` (if any) and the process environment.
pub fn run(path: Option<&Path>) -> Exit {
    let out = outcome(settings::load(path));
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    out.code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_config_prints_redacted_toml_and_exits_0() {
        let env = [("CHATSEAL__HTTP__ADMIN_TOKEN".to_owned(), "admin-sekrit-456".to_owned())];
        let out = outcome(settings::load_from(None, &env));
        assert_eq!(out.code, Exit::Ok);
        assert!(out.stdout.contains("[twitch]") && out.stdout.contains("<redacted>"), "{}", out.stdout);
        assert!(!out.stdout.contains("admin-sekrit-456"));
        assert!(out.stderr.is_empty());
    }

    #[test]
    fn invalid_config_lists_every_problem_and_exits_78() {
        let env = [
            ("CHATSEAL__TWITCH__PORT".to_owned(), "0".to_owned()),
            ("CHATSEAL__BACKUP__KEEP".to_owned(), "0".to_owned()),
        ];
        let out = outcome(settings::load_from(None, &env));
        assert_eq!(out.code, Exit::Config);
        assert!(out.stdout.is_empty());
        assert!(out.stderr.starts_with("invalid configuration:\n"), "{}", out.stderr);
        assert!(out.stderr.contains("twitch.port") && out.stderr.contains("backup.keep"), "{}", out.stderr);
    }
}

//! `chatseal migrate` and `chatseal replay`, through the real binary: a store sealed by a real
//! daemon copied SQLite -> PostgreSQL -> SQLite with equal counts and roots (and a re-run that
//! changes nothing), an old system's database imported with its roots intact, and a chat log
//! replayed twice into the same store; a store of the old layout converted in place by
//! `chatseal migrate`, killed mid-way and run again.

mod compact;
mod copy;
mod legacy;
mod replay;

/// Runs the built binary with `args` and `env`, without any ambient configuration; returns
/// the exit code, stdout and stderr.
pub(crate) fn chatseal(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_chatseal"));
    cmd.args(args)
        .env_remove("CHATSEAL_CONFIG")
        .env_remove("DATABASE_URL")
        .env_remove("CHATSEAL_MIGRATE_FROM")
        .env_remove("CHATSEAL_MIGRATE_TO");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run chatseal");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The number after `label` on its line of `text` (`label:   12 ...` or `label 12`).
pub(crate) fn number_after(text: &str, label: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no line {label:?} in:\n{text}"));
    let rest = &line.trim_start()[label.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .find(|w| !w.is_empty())
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no number after {label:?} in {line:?}"))
}

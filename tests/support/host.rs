//! What the host offers, or why a test skips: root, strace,
//! systemd-socket-activate, `nobody`, fd limit.

use std::io::Write;
use std::process::{Command, Stdio};

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::unistd::User;

/// Says that `test` is skipped and why. Straight to fd 2: the harness
/// captures eprintln! of passing tests. `.ci/run` counts the lines that
/// start with `skipped `.
pub fn skipped(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
}

/// Whether the tests run as root; the root-only ones say so when they skip.
pub fn is_root(test: &str) -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        skipped(test, "it needs root");
    }
    root
}

/// Whether `strace` is installed; the tests that count system calls with it
/// say so when they skip (`.ci/run` installs it).
pub fn has_strace(test: &str) -> bool {
    let found = Command::new("strace")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        skipped(test, "it needs strace");
    }
    found
}

/// Whether `systemd-socket-activate` is installed; the tests that need it
/// say so when they skip.
pub fn has_socket_activator(test: &str) -> bool {
    let found = Command::new("systemd-socket-activate")
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        skipped(test, "it needs systemd-socket-activate");
    }
    found
}

/// The unprivileged account the tests switch to.
pub fn nobody() -> User {
    User::from_name("nobody")
        .expect("passwd")
        .expect("a user named nobody")
}

/// Raises the soft RLIMIT_NOFILE to the hard one, for this process and the
/// processes it starts, and returns it.
pub fn raise_nofile_limit() -> u64 {
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).expect("setrlimit");
    hard
}

//! What a launch left behind: a daemon, its pid and address, or nothing.

use std::fs;
use std::path::Path;

use super::{wait_until, Launch, Sandbox, EXIT};

/// The pid a pidfile holds; it must be complete, newline included.
pub fn pid_in(pidfile: &Path) -> i32 {
    let text =
        fs::read_to_string(pidfile).unwrap_or_else(|e| panic!("read {}: {e}", pidfile.display()));
    assert!(
        text.ends_with('\n'),
        "pidfile content {text:?} lacks its newline"
    );
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("pidfile content {text:?}"))
}

/// Waits for a pidfile that holds a whole line.
pub fn wait_for_pidfile(pidfile: &Path) -> i32 {
    assert!(
        wait_until(EXIT, || fs::read_to_string(pidfile)
            .is_ok_and(|t| t.ends_with('\n'))),
        "no pid in {}",
        pidfile.display()
    );
    pid_in(pidfile)
}

/// A successful launch leaves a daemon: its pid, from the pidfile.
pub fn daemon_pid(launch: &Launch, pidfile: &Path) -> i32 {
    assert!(
        launch.status.success(),
        "launcher failed: {:?}, stderr {:?}",
        launch.status,
        launch.stderr
    );
    assert_eq!(launch.stderr, "", "a successful launcher prints nothing");
    pid_in(pidfile)
}

/// Exit code and stdout, and nothing on stderr.
pub fn said(launch: &Launch) -> (Option<i32>, &str) {
    assert_eq!(launch.stderr, "", "{launch:?}");
    (launch.status.code(), launch.stdout.trim_end())
}

/// The address a server printed through its launcher: its one stdout line
/// `addr: ADDRESS`.
pub fn addr_of(launch: &Launch) -> String {
    launch
        .stdout
        .strip_prefix("addr: ")
        .and_then(|rest| rest.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("no addr: {launch:?}"))
        .to_owned()
}

/// A failed launch: exit 1, the one line expected, and nothing left behind.
pub fn assert_failed_cleanly(sandbox: &Sandbox, launch: &Launch, line: &str, pidfile: &Path) {
    assert_eq!(launch.status.code(), Some(1), "stderr {:?}", launch.stderr);
    assert_eq!(launch.stderr, format!("daemonic: {line}\n"));
    assert!(
        sandbox.wait_all_gone(EXIT),
        "processes left behind: {:?}",
        sandbox.processes()
    );
    assert!(!pidfile.exists(), "stray pidfile {}", pidfile.display());
}

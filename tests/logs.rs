//! Logs that survive rotation: `reopen_logs` on SIGHUP, observed from outside.
// Linux only: these tests read /proc/<pid> to see the daemon from outside.
// On FreeBSD and macOS the crate is compile-checked, not run-tested.
#![cfg(target_os = "linux")]

mod support;

use std::fs;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::{daemon_pid, fds, os, stop_now, wait_until, Sandbox, EXIT};

#[test]
fn after_a_rename_sighup_starts_a_new_log_at_the_old_path() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("rotate.pid");
    let log = sandbox.path("rotate.log");
    let rotated = sandbox.path("rotate.log.1");
    let launch = sandbox.launch(
        "reopen_on_sighup",
        &[("APP_PIDFILE", os(&pidfile)), ("APP_LOG", os(&log))],
    );
    let pid = daemon_pid(&launch, &pidfile);
    let started = format!("started, pid {pid}\n");
    assert!(wait_until(EXIT, || fs::read_to_string(&log)
        .is_ok_and(|text| text == started)));

    // What logrotate does: move the file, then signal the daemon.
    fs::rename(&log, &rotated).unwrap();
    assert_eq!(
        fds(pid)[&1],
        rotated,
        "the daemon still writes the moved file"
    );
    kill(Pid::from_raw(pid), Signal::SIGHUP).unwrap();
    assert!(
        wait_until(EXIT, || fs::read_to_string(&log)
            .is_ok_and(|text| text == "logs reopened\nstderr reopened too\n")),
        "no new log at the old path"
    );
    assert_eq!(fs::read_to_string(&rotated).unwrap(), started);
    let open = fds(pid);
    assert_eq!((&open[&1], &open[&2]), (&log, &log));

    stop_now(pid, &pidfile);
    assert_eq!(
        fs::read_to_string(&log).unwrap(),
        "logs reopened\nstderr reopened too\nstopping\n"
    );
}

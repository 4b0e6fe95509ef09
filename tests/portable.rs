//! The portable fallbacks, run on Linux: the code that FreeBSD and macOS
//! take where Linux has better, switched on in the fixtures by
//! `APP_FALLBACKS` (bits of `daemonic::__testing::fallback`), and observed
//! from outside as the Linux paths are.
// Linux only: these tests read /proc/<pid> to see the daemon from outside.
#![cfg(target_os = "linux")]

mod support;

use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use daemonic::__testing::fallback;
use nix::libc;
use support::{
    assert_failed_cleanly, daemon_fds, daemon_pid, inherit_fds, raise_nofile_limit, signal_mask,
    stop, Launch, Running, Sandbox, EXIT,
};

fn all_fallbacks() -> String {
    (fallback::SIGNALS | fallback::CLOSE_LISTED | fallback::PIPE | fallback::WATCH).to_string()
}

fn launch_notify(sandbox: &Sandbox, pidfile: &Path, behaviour: &str, timeout: &str) -> Launch {
    let mut command = sandbox.command("fixture-notify");
    command
        .env("APP_PIDFILE", pidfile)
        .env("APP_BEHAVIOUR", behaviour)
        .env("APP_READY_TIMEOUT", timeout)
        .env("APP_FALLBACKS", all_fallbacks());
    Running::spawn(command).wait()
}

/// The `sigaction` snapshot, closing the listed fds, and `pipe` with
/// `FD_CLOEXEC`: started by a careless parent, the daemon sheds the same
/// state as with Linux's own means.
#[test]
fn with_the_portable_fallbacks_the_daemon_sheds_the_same_state() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let top = raise_nofile_limit() as i32 - 1;
    let mut command = sandbox.command("fixture-builder");
    command
        .env("APP_PIDFILE", &pidfile)
        .env("APP_FALLBACKS", all_fallbacks());
    inherit_fds(&mut command, &[3, 4, 7, 1000.min(top - 1), top]);
    // SAFETY: signal is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            libc::signal(libc::SIGUSR2, libc::SIG_IGN);
            Ok(())
        });
    }
    let launch = Running::spawn(command).wait();
    let pid = daemon_pid(&launch, &pidfile);
    let null = PathBuf::from("/dev/null");
    let open: Vec<_> = daemon_fds(pid).into_values().collect();
    assert_eq!(open, [null.clone(), null.clone(), null, pidfile.clone()]);
    let standard = (1u64 << 31) - 1;
    assert_eq!(
        signal_mask(pid, "SigIgn") & standard,
        1 << (libc::SIGPIPE - 1),
        "an inherited SIG_IGN survived the sigaction snapshot"
    );
    stop(pid, &pidfile);
}

/// Without a subreaper, as on macOS: the launcher watches the daemon's pid,
/// taken while the intermediate process waits, and so still reports a
/// death (without its status), stops a late daemon, and lets a ready one go.
#[test]
fn without_a_subreaper_the_launcher_watches_reports_and_stops_the_daemon() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");

    let launch = launch_notify(&sandbox, &pidfile, "exit:3", "30");
    let line = "the daemon exited before it was ready";
    assert_failed_cleanly(&sandbox, &launch, line, &pidfile);

    let launch = launch_notify(&sandbox, &pidfile, "panic", "30");
    assert!(
        launch
            .stderr
            .starts_with("daemonic: the daemon panicked before it was ready: panicked at "),
        "{:?}",
        launch.stderr
    );
    assert!(launch.stderr.ends_with("boom before ready\n"));
    assert!(sandbox.wait_all_gone(EXIT) && !pidfile.exists());

    let launch = launch_notify(&sandbox, &pidfile, "hang", "1");
    let line = "the daemon was not ready after 1s, so it was stopped";
    assert_failed_cleanly(&sandbox, &launch, line, &pidfile);

    let launch = launch_notify(&sandbox, &pidfile, "ready-after:10", "30");
    let pid = daemon_pid(&launch, &pidfile);
    // The intermediate process is gone: only the daemon is left.
    assert!(support::wait_until(EXIT, || sandbox.processes() == [pid]));
    stop(pid, &pidfile);
}

/// The forged pid frame, replayed against the watching launcher.
#[test]
fn without_a_subreaper_a_forged_pid_frame_still_signals_nobody_else() {
    let fallbacks = all_fallbacks();
    support::assert_a_forged_pid_frame_signals_nobody_else(&[(
        "APP_FALLBACKS",
        OsStr::new(&fallbacks),
    )]);
}

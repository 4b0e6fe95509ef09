//! Operating the running daemon from its own binary (`examples/service.rs`):
//! status, stop, reload and restart, with the LSB exit codes, and never a
//! signal to a process that does not hold the pidfile.
// Linux only: these tests read /proc/<pid> to see the daemon from outside.
#![cfg(target_os = "linux")]

mod support;

use std::ffi::OsStr;
use std::fs;
use std::path::Path;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::{
    alive, daemon_pid, directory_of, is_root, nobody, os, pid_in, said, service, wait_for_line,
    wait_until, Launch, Running, Sandbox, EXIT,
};

#[test]
fn the_whole_cycle_start_status_reload_stop_status() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("service.pid");
    let pid = daemon_pid(&service(&sandbox, &pidfile, "start", &[]), &pidfile);
    let running = format!("running (pid {pid})");
    assert_eq!(
        said(&service(&sandbox, &pidfile, "status", &[])),
        (Some(0), running.as_str())
    );
    let reloaded = format!("reloaded (pid {pid})");
    assert_eq!(
        said(&service(&sandbox, &pidfile, "reload", &[])),
        (Some(0), reloaded.as_str())
    );
    // The daemon saw the SIGHUP.
    wait_for_line(
        &sandbox.path("service.log"),
        &format!("reloading, pid {pid}"),
    );
    let stopped = format!("stopped (pid {pid})");
    assert_eq!(
        said(&service(&sandbox, &pidfile, "stop", &[])),
        (Some(0), stopped.as_str())
    );
    // stop returns once the process is gone, and its pidfile with it.
    assert!(!alive(pid), "stop returned before the daemon was gone");
    assert!(!pidfile.exists());
    assert_eq!(
        said(&service(&sandbox, &pidfile, "status", &[])),
        (Some(3), "not running")
    );
}

#[test]
fn after_kill_9_status_says_stale_and_stop_and_reload_say_not_running() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("service.pid");
    let pid = daemon_pid(&service(&sandbox, &pidfile, "start", &[]), &pidfile);
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    assert!(wait_until(EXIT, || !alive(pid)));
    let stale = format!("not running, stale pidfile {}", pidfile.display());
    assert_eq!(
        said(&service(&sandbox, &pidfile, "status", &[])),
        (Some(1), stale.as_str())
    );
    assert_eq!(
        said(&service(&sandbox, &pidfile, "stop", &[])),
        (Some(0), "not running")
    );
    assert_eq!(
        said(&service(&sandbox, &pidfile, "reload", &[])),
        (Some(7), "not running")
    );
}

/// The pid is reused: a stale, unlocked pidfile names a live process that
/// is not the daemon. No command signals it.
#[test]
fn a_stale_pidfile_naming_a_live_process_gets_it_no_signal() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("service.pid");
    let unrelated = sandbox.bystander("unrelated");
    fs::write(&pidfile, format!("{}\n", unrelated.pid)).unwrap();
    let stale = format!("not running, stale pidfile {}", pidfile.display());
    for (command, expected) in [
        ("stop", (Some(0), "not running")),
        ("reload", (Some(7), "not running")),
        ("status", (Some(1), stale.as_str())),
    ] {
        assert_eq!(said(&service(&sandbox, &pidfile, command, &[])), expected);
    }
    unrelated.assert_untouched();
}

/// A daemon that dropped to nobody, with its pidfile in nobody's directory,
/// keeps the lock and writes the pid of a root process into the file.
/// Root's commands must not signal that process, and say why.
#[test]
fn a_lying_lock_holder_cannot_make_root_signal_another_process() {
    if !is_root("a_lying_lock_holder_cannot_make_root_signal_another_process") {
        return;
    }
    let sandbox = Sandbox::new();
    let nobody = nobody();
    let run = directory_of(&sandbox, "run", &nobody);
    let pidfile = run.join("app.pid");
    // The daemon's user owns the file, as in its own runtime directory.
    fs::write(&pidfile, "").unwrap();
    std::os::unix::fs::chown(&pidfile, Some(nobody.uid.as_raw()), None).unwrap();
    let roots = sandbox.bystander("roots");
    let lie = roots.pid.to_string();
    let launch = sandbox.launch(
        "fixture-builder",
        &[
            ("APP_PIDFILE", os(&pidfile)),
            ("APP_USER", OsStr::new("nobody")),
            ("APP_LIE", OsStr::new(&lie)),
        ],
    );
    assert!(launch.status.success(), "{launch:?}");
    assert!(wait_until(EXIT, || fs::read_to_string(&pidfile)
        .is_ok_and(|text| text == format!("{lie}\n"))));
    let why = format!(
        "daemonic: pidfile {}: names pid {lie}, which does not hold it open; nothing was signalled\n",
        pidfile.display()
    );
    // The same binary, which knows the daemon's user: its directory passes.
    for command in ["stop", "reload", "status"] {
        let answer = sandbox.launch(
            "fixture-builder",
            &[
                ("APP_PIDFILE", os(&pidfile)),
                ("APP_USER", OsStr::new("nobody")),
                ("APP_CONTROL", OsStr::new(command)),
            ],
        );
        assert_eq!(answer.status.code(), Some(4), "{command}: {answer:?}");
        assert_eq!(answer.stderr, why, "{command}");
    }
    // A binary that does not know that user refuses the directory itself.
    let refused = format!(
        "daemonic: pidfile {}: refused, its directory {} belongs to uid {}, who could replace it\n",
        pidfile.display(),
        run.display(),
        nobody.uid
    );
    for command in ["stop", "reload", "status"] {
        let answer = service(&sandbox, &pidfile, command, &[]);
        assert_eq!(answer.status.code(), Some(4), "{command}: {answer:?}");
        assert_eq!(answer.stderr, refused, "{command}");
    }
    roots.assert_untouched();
}

/// The lying holder names a root process that does hold the pidfile open:
/// the "holds it open" check passes, and only the owner's rule (nobody, who
/// owns the file, could not signal a root process) stands between root's
/// commands and that process. They exit 4 and it gets nothing.
#[test]
fn a_lie_naming_a_root_process_that_holds_the_pidfile_is_refused_by_the_owner_rule() {
    if !is_root("a_lie_naming_a_root_process_that_holds_the_pidfile_is_refused_by_the_owner_rule") {
        return;
    }
    let sandbox = Sandbox::new();
    let nobody = nobody();
    let run = directory_of(&sandbox, "run", &nobody);
    let pidfile = run.join("app.pid");
    fs::write(&pidfile, "").unwrap();
    std::os::unix::fs::chown(&pidfile, Some(nobody.uid.as_raw()), None).unwrap();
    let roots = sandbox.bystander_with("roots", &[("APP_HOLD", os(&pidfile))]);
    let lie = roots.pid.to_string();
    let launch = sandbox.launch(
        "fixture-builder",
        &[
            ("APP_PIDFILE", os(&pidfile)),
            ("APP_USER", OsStr::new("nobody")),
            ("APP_LIE", OsStr::new(&lie)),
        ],
    );
    assert!(launch.status.success(), "{launch:?}");
    assert!(wait_until(EXIT, || fs::read_to_string(&pidfile)
        .is_ok_and(|text| text == format!("{lie}\n"))));
    let why = format!(
        "daemonic: pidfile {}: names pid {lie}, which runs as uid 0, and uid {}, who owns the \
         pidfile, could not signal it; nothing was signalled\n",
        pidfile.display(),
        nobody.uid
    );
    for command in ["stop", "reload", "status"] {
        let answer = sandbox.launch(
            "fixture-builder",
            &[
                ("APP_PIDFILE", os(&pidfile)),
                ("APP_USER", OsStr::new("nobody")),
                ("APP_CONTROL", OsStr::new(command)),
            ],
        );
        assert_eq!(answer.status.code(), Some(4), "{command}: {answer:?}");
        assert_eq!(answer.stderr, why, "{command}");
    }
    roots.assert_untouched();
}

/// Starts `fixture-builder` detached with a worker, forked without exec,
/// that keeps the pidfile's lock `worker_ms` after the daemon exits; the
/// daemon's pid and the worker's.
fn start_with_worker(sandbox: &Sandbox, pidfile: &Path, worker_ms: &str) -> (i32, i32) {
    let log = sandbox.path("builder.log");
    let launch = sandbox.launch(
        "fixture-builder",
        &[
            ("APP_PIDFILE", os(pidfile)),
            ("APP_STDOUT", os(&log)),
            ("APP_WORKER_MS", OsStr::new(worker_ms)),
        ],
    );
    let daemon = daemon_pid(&launch, pidfile);
    let worker = wait_for_line(&log, "worker, pid ")["worker, pid ".len()..]
        .trim()
        .parse()
        .expect("the worker's pid");
    (daemon, worker)
}

/// `builder stop`, with `stop_timeout` in seconds.
fn builder_stop(sandbox: &Sandbox, pidfile: &Path, stop_timeout: &str) -> Launch {
    sandbox.launch(
        "fixture-builder",
        &[
            ("APP_PIDFILE", os(pidfile)),
            ("APP_STOP_TIMEOUT", OsStr::new(stop_timeout)),
            ("APP_CONTROL", OsStr::new("stop")),
        ],
    )
}

/// A worker forked without exec keeps the lock a second after the daemon
/// exits: `stop` returns only once it is gone too, so that a start right
/// after cannot meet a lock held by the old generation.
#[test]
fn stop_waits_for_a_worker_that_keeps_the_lock() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let (daemon, worker) = start_with_worker(&sandbox, &pidfile, "1000");
    let stopped = builder_stop(&sandbox, &pidfile, "10");
    assert_eq!(
        said(&stopped),
        (Some(0), format!("stopped (pid {daemon})").as_str())
    );
    assert!(
        !alive(worker),
        "stop returned while the worker held the lock"
    );
    assert!(sandbox.wait_all_gone(EXIT), "{:?}", sandbox.processes());
}

/// A worker that keeps the lock past `stop_timeout`: `stop` says that the
/// daemon exited and who keeps the lock, exit 1, and never that the daemon
/// still runs.
#[test]
fn stop_says_so_when_a_worker_keeps_the_lock_past_the_timeout() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let (daemon, worker) = start_with_worker(&sandbox, &pidfile, "60000");
    let stopped = builder_stop(&sandbox, &pidfile, "1");
    // The worker is the test's to end, whatever the outcome.
    let _ = kill(Pid::from_raw(worker), Signal::SIGKILL);
    assert_eq!(stopped.status.code(), Some(1), "{stopped:?}");
    assert_eq!(
        stopped.stderr,
        format!(
            "daemonic: pid {daemon} exited, but another process still holds {} locked: a child \
             it left behind, say\n",
            pidfile.display()
        )
    );
    assert!(!alive(daemon));
    assert!(sandbox.wait_all_gone(EXIT), "{:?}", sandbox.processes());
}

#[test]
fn a_daemon_that_ignores_sigterm_is_stopped_with_sigkill_after_stop_timeout() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("service.pid");
    let env = [
        ("APP_IGNORE_SIGTERM", OsStr::new("1")),
        ("APP_STOP_TIMEOUT", OsStr::new("1")),
    ];
    let pid = daemon_pid(&service(&sandbox, &pidfile, "start", &env), &pidfile);
    let stopped = format!("stopped (pid {pid}) with SIGKILL");
    assert_eq!(
        said(&service(&sandbox, &pidfile, "stop", &env)),
        (Some(0), stopped.as_str())
    );
    assert!(!alive(pid));
}

#[test]
fn restart_replaces_the_daemon_with_exactly_one_new_one() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("service.pid");
    let old = daemon_pid(&service(&sandbox, &pidfile, "start", &[]), &pidfile);
    let restart = service(&sandbox, &pidfile, "restart", &[]);
    assert!(restart.status.success(), "{restart:?}");
    assert_eq!(restart.stdout, format!("stopped (pid {old})\n"));
    let new = pid_in(&pidfile);
    assert_ne!(new, old);
    assert!(!alive(old));
    assert!(alive(new));
    assert!(
        wait_until(EXIT, || sandbox.processes() == [new]),
        "not exactly one daemon: {:?}",
        sandbox.processes()
    );
}

/// An unprivileged user's `stop` against root's daemon: exit 4, the OS
/// error, and the daemon still runs.
#[test]
fn stop_by_another_user_exits_4_and_leaves_the_daemon_running() {
    if !is_root("stop_by_another_user_exits_4_and_leaves_the_daemon_running") {
        return;
    }
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("service.pid");
    let pid = daemon_pid(&service(&sandbox, &pidfile, "start", &[]), &pidfile);
    let mut stop = sandbox.command_as("service", &nobody());
    stop.arg("stop")
        .env("APP_PIDFILE", &pidfile)
        .env("APP_LOG", sandbox.path("service.log"));
    let answer = Running::spawn(stop).wait();
    assert_eq!(answer.status.code(), Some(4), "{answer:?}");
    assert_eq!(
        answer.stderr,
        format!("daemonic: signal to pid {pid}: Operation not permitted\n")
    );
    assert!(alive(pid));
}

#[test]
fn an_unknown_command_names_the_commands_and_exits_2() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("service.pid");
    let answer = service(&sandbox, &pidfile, "strat", &[]);
    assert_eq!(answer.status.code(), Some(2));
    assert_eq!(
        answer.stderr,
        "daemonic: unknown command \"strat\"; the commands are start, stop, status, reload, restart and upgrade\n"
    );
    assert!(!pidfile.exists());
    assert!(sandbox.wait_all_gone(EXIT));
}

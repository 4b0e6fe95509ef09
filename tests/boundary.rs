//! The privilege boundary and what the launcher trusts, each rule shown by
//! replaying the attack it stops: from the daemon's user, from the daemon's
//! own code writing to its report pipe, from a stdout nobody reads, from a
//! forked worker, and from a C library's atexit hook.
// Linux only: these tests read /proc/<pid> to see the daemon from outside.
// On FreeBSD and macOS the crate is compile-checked, not run-tested.
#![cfg(target_os = "linux")]

mod support;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::process::Stdio;
use std::time::Instant;

use nix::libc;
use support::{
    alive, assert_failed_cleanly, daemon_fds, daemon_pid, directory_of, fd_flags, is_root, nobody,
    os, pid_in, stop, wait_for_line, Running, Sandbox, EXIT,
};

/// Hole 1: the daemon's user plants `app.log -> /some/root/file` in its own
/// log directory; at root's next start, the daemon's stdout must not be
/// appended to that file.
#[test]
fn a_log_symlink_planted_by_the_daemons_user_is_refused_and_its_target_untouched() {
    if !is_root("a_log_symlink_planted_by_the_daemons_user_is_refused_and_its_target_untouched") {
        return;
    }
    let sandbox = Sandbox::new();
    let nobody = nobody();
    let logs = directory_of(&sandbox, "logs", &nobody);
    let pidfile = sandbox.path("app.pid");
    let victim = sandbox.path("victim");
    fs::write(&victim, "precious\n").unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o600)).unwrap();
    let start = |log: &std::path::Path| {
        sandbox.launch(
            "fixture-builder",
            &[
                ("APP_PIDFILE", os(&pidfile)),
                ("APP_USER", OsStr::new("nobody")),
                ("APP_STDOUT", os(log)),
            ],
        )
    };

    // The planted link, as the user can make it in its own directory.
    let planted = logs.join("app.log");
    symlink(&victim, &planted).unwrap();
    let launch = start(&planted);
    let line = format!(
        "stdout {}: refused, it is a symbolic link",
        planted.display()
    );
    assert_failed_cleanly(&sandbox, &launch, &line, &pidfile);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");

    // A link one directory up, into a directory only root may enter: the
    // file is opened as the daemon's user, who cannot reach it.
    let private = sandbox.path("private");
    fs::create_dir(&private).unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
    symlink(&private, logs.join("sub")).unwrap();
    let through = logs.join("sub/app.log");
    let launch = start(&through);
    let line = format!("stdout {}: Permission denied", through.display());
    assert_failed_cleanly(&sandbox, &launch, &line, &pidfile);
    assert!(
        !private.join("app.log").exists(),
        "root created a file in private"
    );

    // A root file the user cannot write, at the log's own path: refused too.
    let roots = logs.join("roots.log");
    fs::write(&roots, "root's\n").unwrap();
    fs::set_permissions(&roots, fs::Permissions::from_mode(0o644)).unwrap();
    let launch = start(&roots);
    let line = format!("stdout {}: Permission denied", roots.display());
    assert_failed_cleanly(&sandbox, &launch, &line, &pidfile);
    assert_eq!(fs::read_to_string(&roots).unwrap(), "root's\n");

    // The control: a log of the user's own is created as the user's, and used.
    let own = logs.join("own.log");
    let launch = start(&own);
    let pid = daemon_pid(&launch, &pidfile);
    assert_eq!(
        wait_for_line(&own, "started"),
        format!("started, pid {pid}")
    );
    assert_eq!(fs::metadata(&own).unwrap().uid(), nobody.uid.as_raw());
    assert_eq!(daemon_fds(pid)[&1], own);
}

/// Hole 2: before it is ready, the daemon's own code writes a second pid
/// frame naming another process. At the timeout, the launcher must stop the
/// daemon, its own child, and leave that process alone.
#[test]
fn a_forged_pid_frame_cannot_make_the_launcher_signal_another_process() {
    support::assert_a_forged_pid_frame_signals_nobody_else(&[]);
}

/// Hole 2, the other frame: the daemon's own code reports a failure and runs
/// on. The launcher reports it, and leaves no daemon running without its pidfile.
/// A daemon that floods its launcher's pipe (four threads writing status
/// frames without end, so the pipe is full whenever the launcher looks)
/// and is never ready: the launcher reads a bounded number of times past
/// its deadline, then stops the daemon and fails. Without that bound it
/// would relay forever, and this test would fail at its launch limit.
#[test]
fn a_daemon_flooding_its_pipe_cannot_hold_the_launcher_past_its_deadline() {
    let sandbox = support::Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let mut command = sandbox.command("fixture-forge");
    command
        .env("APP_PIDFILE", &pidfile)
        .env("APP_FORGE", "flood");
    let launch = support::Running::spawn(command).wait();
    assert_eq!(launch.status.code(), Some(1), "{}", launch.stderr);
    assert!(
        launch
            .stderr
            .contains("daemonic: the daemon was not ready after 1s, so it was stopped"),
        "{}",
        launch.stderr
    );
    assert!(
        sandbox.wait_all_gone(support::EXIT),
        "the daemon was left running: {:?}",
        sandbox.processes()
    );
    assert!(!pidfile.exists());
}

#[test]
fn a_forged_failure_report_leaves_no_daemon_running() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let launch = sandbox.launch(
        "fixture-forge",
        &[
            ("APP_PIDFILE", os(&pidfile)),
            ("APP_FORGE", OsStr::new("failed")),
        ],
    );
    assert_failed_cleanly(
        &sandbox,
        &launch,
        "workdir /forged: No such file or directory",
        &pidfile,
    );
}

/// Hole 3: after the drop, the daemon writes a pid of its choosing into
/// root's pidfile, through the fd it keeps, or that fd opened again.
#[test]
fn after_the_drop_the_daemon_cannot_rewrite_roots_pidfile() {
    if !is_root("after_the_drop_the_daemon_cannot_rewrite_roots_pidfile") {
        return;
    }
    let sandbox = Sandbox::new();
    let nobody = nobody();
    let out = directory_of(&sandbox, "logs", &nobody).join("out.log");
    let pidfile = sandbox.path("app.pid");
    let launch = sandbox.launch(
        "fixture-builder",
        &[
            ("APP_PIDFILE", os(&pidfile)),
            ("APP_USER", OsStr::new("nobody")),
            ("APP_STDOUT", os(&out)),
            ("APP_TRY_ROOT", OsStr::new("1")),
        ],
    );
    let pid = daemon_pid(&launch, &pidfile);
    let written = wait_for_line(&out, "write through fd");
    let reopened = wait_for_line(&out, "reopen fd");
    assert!(written.ends_with("Err(Uncategorized)"), "{written}");
    assert!(reopened.ends_with("Err(PermissionDenied)"), "{reopened}");
    assert_eq!(pid_in(&pidfile), pid, "the daemon rewrote the pidfile");
    // From outside: the fd it keeps is read-only, and every fd it could
    // write is one it could open for writing as nobody.
    for (fd, target) in daemon_fds(pid) {
        let writable = fd_flags(pid, fd) & libc::O_ACCMODE != libc::O_RDONLY;
        if target == pidfile {
            assert!(!writable, "the pidfile is open for writing on fd {fd}");
        } else if writable && target.is_file() {
            assert_eq!(
                fs::metadata(&target).unwrap().uid(),
                nobody.uid.as_raw(),
                "fd {fd} writes {} as root's",
                target.display()
            );
        }
    }
}

/// Hole 4: thousands of status lines, and a launcher whose stdout nobody
/// reads. The launcher keeps its deadline, delivers ready, and says how many
/// lines it dropped; the daemon's status() never blocks its ready().
#[test]
fn a_status_flood_into_an_unread_stdout_cannot_hold_the_launcher_past_its_deadline() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let marker = sandbox.path("marker");
    let (unread, stdout) = nix::unistd::pipe().unwrap();
    let mut command = sandbox.command("fixture-notify");
    command
        .env("APP_PIDFILE", &pidfile)
        .env("APP_BEHAVIOUR", "flood:5000")
        .env("APP_READY_TIMEOUT", "2")
        .env("APP_MARKER", &marker)
        .stdout(Stdio::from(stdout));
    let started = Instant::now();
    let launch = Running::spawn(command).wait();
    let elapsed = started.elapsed();
    let pid = daemon_pid_despite_notice(&launch, &pidfile);
    let dropped: usize = launch
        .stderr
        .strip_prefix("daemonic: ")
        .and_then(|rest| rest.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no count of dropped lines: {:?}", launch.stderr));
    assert!(
        dropped > 0 && dropped < 5000,
        "{dropped} dropped: {:?}",
        launch.stderr
    );
    assert!(
        launch
            .stderr
            .ends_with("status lines were dropped: the launcher's stdout did not take them before the deadline\n"),
        "{:?}",
        launch.stderr
    );
    // The deadline is 2 s; a launcher blocked on its stdout never returns.
    assert!(elapsed < EXIT, "the launcher took {elapsed:?}");
    assert_eq!(
        fs::read_to_string(&marker).unwrap(),
        "ready delivered: true\n"
    );
    drop(unread);
    stop(pid, &pidfile);
}

/// A successful launch whose stderr holds the notice of dropped lines.
fn daemon_pid_despite_notice(launch: &support::Launch, pidfile: &std::path::Path) -> i32 {
    assert!(launch.status.success(), "{launch:?}");
    pid_in(pidfile)
}

/// Hole 5: a pre-fork server's worker returns from main. The pidfile is the
/// daemon's, which wrote its pid there; the worker leaves it.
#[test]
fn a_worker_forked_without_exec_leaves_the_pidfile_to_the_daemon() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let launch = sandbox.launch("fixture-prefork", &[("APP_PIDFILE", os(&pidfile))]);
    let pid = daemon_pid(&launch, &pidfile);
    assert!(
        launch.stdout.starts_with("worker: ") && launch.stdout.ends_with(" exited\n"),
        "{:?}",
        launch.stdout
    );
    assert!(pidfile.exists(), "the worker removed the daemon's pidfile");
    assert_eq!(pid_in(&pidfile), pid);
    stop(pid, &pidfile);
}

/// Hole 6: a C atexit hook, registered before main. It runs once, in the
/// daemon when it ends; the launcher leaves with _exit.
#[test]
fn an_atexit_hook_runs_once_in_the_daemon_and_never_in_the_launcher() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let marker = sandbox.path("marker");
    let launch = sandbox.launch(
        "fixture-atexit",
        &[("APP_PIDFILE", os(&pidfile)), ("APP_MARKER", os(&marker))],
    );
    let pid = daemon_pid(&launch, &pidfile);
    assert!(
        !marker.exists(),
        "a hook ran before the daemon ended: {:?}",
        fs::read_to_string(&marker)
    );
    stop(pid, &pidfile);
    assert_eq!(
        fs::read_to_string(&marker).unwrap(),
        format!("atexit in pid {pid}\n")
    );
}

/// A FIFO planted at the pidfile's path or at a log's path: the open would
/// block forever. Both are answered at once, and nothing is left behind.
#[test]
fn a_fifo_at_the_pidfile_or_a_log_path_is_refused_without_hanging() {
    let sandbox = Sandbox::new();
    let fifo = sandbox.path("app.pid");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let launch = sandbox.launch("fixture-quiet", &[("APP_PIDFILE", os(&fifo))]);
    assert_eq!(launch.status.code(), Some(1), "{launch:?}");
    assert_eq!(
        launch.stderr,
        format!(
            "daemonic: pidfile {}: refused, it is not a regular file\n",
            fifo.display()
        )
    );
    assert!(sandbox.wait_all_gone(EXIT));

    let pidfile = sandbox.path("real.pid");
    let log = sandbox.path("app.log");
    nix::unistd::mkfifo(&log, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let launch = sandbox.launch(
        "fixture-builder",
        &[("APP_PIDFILE", os(&pidfile)), ("APP_STDOUT", os(&log))],
    );
    let line = format!("stdout {}: No such device or address", log.display());
    assert_failed_cleanly(&sandbox, &launch, &line, &pidfile);
}

/// In its own directory (systemd's RuntimeDirectory=), the daemon's user
/// replaced the pidfile with one of its own, then died: the next start by
/// root takes it over, as it would a stale file of its own.
#[test]
fn a_stale_pidfile_the_daemons_user_left_in_its_directory_is_taken_over() {
    if !is_root("a_stale_pidfile_the_daemons_user_left_in_its_directory_is_taken_over") {
        return;
    }
    let sandbox = Sandbox::new();
    let nobody = nobody();
    let run = directory_of(&sandbox, "run", &nobody);
    let pidfile = run.join("app.pid");
    fs::write(&pidfile, "1\n").unwrap();
    std::os::unix::fs::chown(&pidfile, Some(nobody.uid.as_raw()), None).unwrap();
    let launch = sandbox.launch(
        "fixture-builder",
        &[
            ("APP_PIDFILE", os(&pidfile)),
            ("APP_USER", OsStr::new("nobody")),
        ],
    );
    let pid = daemon_pid(&launch, &pidfile);
    assert!(alive(pid));
}

//! The detach sequence, observed from outside: the launcher's exit code and
//! stderr, and the daemon's `/proc/<pid>` entries.
// Linux only: these tests read /proc/<pid> to see the daemon from outside.
// On FreeBSD and macOS the crate is compile-checked, not run-tested.
#![cfg(target_os = "linux")]

mod support;

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::net::TcpStream;
use std::path::PathBuf;

use std::fs::File;
use std::os::unix::process::CommandExt;

use nix::libc;
use nix::unistd::getsid;
use support::{
    alive, assert_failed_cleanly, cwd, daemon_fds, daemon_pid, fds, inherit_fds, on_terminal, os,
    pid_in, raise_nofile_limit, signal_mask, stat, stop, stop_now, threads, umask,
    wait_for_pidfile, wait_until, Running, Sandbox, EXIT,
};

/// SIGTERM as a bit of `/proc/<pid>/status`'s signal masks: the fixtures
/// block it to wait for it.
const SIGTERM_BIT: u64 = 1 << (libc::SIGTERM - 1);
const SIGPIPE_BIT: u64 = 1 << (libc::SIGPIPE - 1);

/// A `fixture-quiet` started the way a careless shell would start it, with
/// everything a daemon must shed: a controlling terminal, fds inherited up to
/// the top of RLIMIT_NOFILE, SIGUSR1 blocked and SIGHUP ignored.
fn start_from_a_terminal(sandbox: &Sandbox, env: &[(&str, &OsStr)]) -> (Running, File, Vec<i32>) {
    let top = raise_nofile_limit() as i32 - 1;
    let mut command = sandbox.command("fixture-quiet");
    command.envs(env.iter().copied());
    let master = on_terminal(&mut command);
    let inherited = inherit_fds(&mut command, &[4, 7, 1000.min(top - 1), top]);
    // SAFETY: sigprocmask, umask and signal are async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            // A umask of its own, which the daemon replaces and the
            // foreground keeps.
            libc::umask(0o077);
            let mut usr1: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut usr1);
            libc::sigaddset(&mut usr1, libc::SIGUSR1);
            libc::sigprocmask(libc::SIG_BLOCK, &usr1, std::ptr::null_mut());
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            Ok(())
        });
    }
    (Running::spawn(command), master, inherited)
}

#[test]
fn daemon_sheds_the_terminal_session_fds_and_signal_state_it_was_started_with() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("quiet.pid");
    let workdir = sandbox.path("work");
    fs::create_dir(&workdir).unwrap();
    let env = [("APP_PIDFILE", os(&pidfile)), ("APP_WORKDIR", os(&workdir))];
    let (launcher, _master, _) = start_from_a_terminal(&sandbox, &env);
    let launch = launcher.wait();
    let pid = daemon_pid(&launch, &pidfile);

    let daemon = stat(pid);
    // The launcher led its own session, on the terminal.
    assert_ne!(
        daemon.session, launch.pid,
        "the daemon is in the launcher's session"
    );
    assert_ne!(daemon.session, getsid(None).unwrap().as_raw());
    assert_ne!(daemon.session, pid, "the daemon leads its session");
    assert_ne!(daemon.pgrp, pid, "the daemon leads a process group");
    assert_ne!(
        daemon.ppid, launch.pid,
        "the daemon is the launcher's child"
    );
    assert_eq!(daemon.tty_nr, 0, "the daemon has a controlling terminal");
    assert_eq!(cwd(pid), workdir);
    assert_eq!(umask(pid), 0o027);
    assert_eq!(threads(pid), 1);

    let null = PathBuf::from("/dev/null");
    let (stdio, others): (Vec<_>, Vec<_>) =
        daemon_fds(pid).into_iter().partition(|(fd, _)| *fd <= 2);
    assert_eq!(stdio, [(0, null.clone()), (1, null.clone()), (2, null)]);
    assert_eq!(
        others.iter().map(|(_, target)| target).collect::<Vec<_>>(),
        [&pidfile],
        "only the pidfile may stay open beside stdio"
    );
    // The fixture blocks SIGTERM itself, outside sigsuspend.
    assert_eq!(
        signal_mask(pid, "SigBlk") & !SIGTERM_BIT,
        0,
        "SIGUSR1 is still blocked"
    );
    // Signals 32 and 33 belong to the C library, which keeps their disposition.
    let standard = (1u64 << 31) - 1;
    assert_eq!(
        signal_mask(pid, "SigIgn") & standard,
        SIGPIPE_BIT,
        "SIGHUP is still ignored"
    );
    stop(pid, &pidfile);
}

#[test]
fn in_the_foreground_the_same_start_keeps_all_of_it() {
    // The control of the test above: the same start, with the detach
    // switched off, shows each thing the daemon must shed.
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("quiet.pid");
    let env = [
        ("APP_PIDFILE", os(&pidfile)),
        ("DAEMONIC_FOREGROUND", OsStr::new("1")),
    ];
    let (process, _master, inherited) = start_from_a_terminal(&sandbox, &env);
    assert_eq!(wait_for_pidfile(&pidfile), process.pid);
    let own = stat(process.pid);
    assert_eq!(own.session, process.pid);
    assert_ne!(own.tty_nr, 0);
    // The daemon gets the fixture's cwd and umask; the foreground keeps the
    // launcher's, which differ.
    assert_eq!(cwd(process.pid), sandbox.path(""));
    assert_eq!(umask(process.pid), 0o077);
    let open = fds(process.pid);
    for fd in inherited {
        assert!(
            open.contains_key(&fd),
            "fd {fd} was not inherited: {open:?}"
        );
    }
    let sigusr1 = 1 << (libc::SIGUSR1 - 1);
    assert_eq!(signal_mask(process.pid, "SigBlk") & sigusr1, sigusr1);
    let sighup = 1 << (libc::SIGHUP - 1);
    assert_eq!(signal_mask(process.pid, "SigIgn") & sighup, sighup);
    stop(process.pid, &pidfile);
    assert!(process.wait().status.success());
}

#[test]
fn log_files_receive_stdout_and_stderr() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("plain.pid");
    let log = sandbox.path("plain.log");
    let mut command = sandbox.command("plain");
    command.env("APP_PIDFILE", &pidfile).env("APP_LOG", &log);
    // Started with more open than stdio, so that "nothing else" can fail.
    inherit_fds(&mut command, &[3, 5, 9]);
    let launch = Running::spawn(command).wait();
    let pid = daemon_pid(&launch, &pidfile);
    let open: Vec<_> = daemon_fds(pid).into_values().collect();
    assert_eq!(
        open,
        [
            PathBuf::from("/dev/null"),
            log.clone(),
            log.clone(),
            pidfile.clone()
        ]
    );
    assert_eq!(cwd(pid), PathBuf::from("/"));
    assert!(wait_until(EXIT, || {
        let text = fs::read_to_string(&log).unwrap_or_default();
        text.contains(&format!("started, pid {pid}\n")) && text.contains("stderr goes to the log")
    }));
    stop_now(pid, &pidfile);
    assert!(fs::read_to_string(&log)
        .unwrap()
        .ends_with("SIGTERM received, stopping\n"));
}

#[test]
fn second_start_is_refused_naming_the_running_pid() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let env = [("APP_PIDFILE", os(&pidfile))];
    let first = daemon_pid(&sandbox.launch("fixture-quiet", &env), &pidfile);

    let second = sandbox.launch("fixture-quiet", &env);
    assert_eq!(second.status.code(), Some(1));
    assert_refused_without_forking(&sandbox, &pidfile);
    assert_eq!(
        second.stderr,
        format!(
            "daemonic: pidfile {}: already running (pid {first})\n",
            pidfile.display()
        )
    );
    assert!(alive(first));
    assert_eq!(
        pid_in(&pidfile),
        first,
        "the refused start touched the pidfile"
    );
    assert_eq!(
        sandbox.processes(),
        [first],
        "the refused start left a process"
    );
    stop(first, &pidfile);
}

/// Counts the forks a start makes, with `strace`: a second start is refused
/// by the lock, before any fork. The control, a start that succeeds, shows
/// that the count sees the launcher's fork.
fn assert_refused_without_forking(sandbox: &Sandbox, pidfile: &std::path::Path) {
    if !support::has_strace("second_start_is_refused_naming_the_running_pid (fork count)") {
        return;
    }
    let forks = |follow: bool, pidfile: &std::path::Path, name: &str| {
        let trace = sandbox.path(name);
        let mut command = sandbox.command_for("strace");
        if follow {
            command.arg("-f");
        }
        command
            .args([
                "-qq",
                "-e",
                "trace=fork,vfork,clone,clone3",
                "-e",
                "signal=none",
                "-o",
            ])
            .arg(&trace)
            .arg(support::example("fixture-quiet"))
            .env("APP_PIDFILE", pidfile);
        let launch = Running::spawn(command).wait();
        let count = fs::read_to_string(&trace)
            .unwrap()
            .lines()
            .filter(|line| line.contains("fork(") || line.contains("clone"))
            .count();
        (launch, count)
    };
    let (refused, count) = forks(true, pidfile, "refused.trace");
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert_eq!(count, 0, "the refused start forked");
    let other = sandbox.path("other.pid");
    let (started, count) = forks(false, &other, "started.trace");
    let pid = daemon_pid(&started, &other);
    assert!(count >= 1, "the fork count missed the launcher's fork");
    stop(pid, &other);
}

#[test]
fn stale_pidfile_is_taken_over() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    // A pid that no process has: the pidfile of a daemon that died unlocked.
    fs::write(&pidfile, format!("{}\n", i32::MAX)).unwrap();
    let launch = sandbox.launch("fixture-quiet", &[("APP_PIDFILE", os(&pidfile))]);
    let pid = daemon_pid(&launch, &pidfile);
    assert!(alive(pid));
    assert_eq!(fs::read_to_string(&pidfile).unwrap(), format!("{pid}\n"));
    stop(pid, &pidfile);
}

#[test]
fn a_stale_pidfile_naming_a_live_unrelated_process_is_taken_over_and_that_process_untouched() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    // The pid is reused: the file names a live process that is not ours.
    let unrelated = sandbox.bystander("unrelated");
    fs::write(&pidfile, format!("{}\n", unrelated.pid)).unwrap();
    let launch = sandbox.launch("fixture-quiet", &[("APP_PIDFILE", os(&pidfile))]);
    let pid = daemon_pid(&launch, &pidfile);
    assert_ne!(pid, unrelated.pid);
    assert_eq!(fs::read_to_string(&pidfile).unwrap(), format!("{pid}\n"));
    unrelated.assert_untouched();
    stop(pid, &pidfile);
}

#[test]
fn relative_paths_resolve_against_the_launchers_directory() {
    let sandbox = Sandbox::new();
    let launch_dir = sandbox.path("here");
    fs::create_dir_all(launch_dir.join("work")).unwrap();
    let launch = sandbox.launch_in(
        &launch_dir,
        "fixture-quiet",
        &[
            ("APP_PIDFILE", OsStr::new("app.pid")),
            ("APP_WORKDIR", OsStr::new("work")),
        ],
    );
    let pidfile = launch_dir.join("app.pid");
    let pid = daemon_pid(&launch, &pidfile);
    assert_eq!(cwd(pid), launch_dir.join("work"));
    assert!(fds(pid).values().any(|target| target == &pidfile));
    stop(pid, &pidfile);

    // Log files too, while the daemon runs in / rather than beside them.
    let launch = sandbox.launch_in(
        &launch_dir,
        "plain",
        &[
            ("APP_PIDFILE", OsStr::new("plain.pid")),
            ("APP_LOG", OsStr::new("plain.log")),
        ],
    );
    let pidfile = launch_dir.join("plain.pid");
    let pid = daemon_pid(&launch, &pidfile);
    assert_eq!(cwd(pid), PathBuf::from("/"));
    assert_eq!(fds(pid).get(&1), Some(&launch_dir.join("plain.log")));
    stop_now(pid, &pidfile);
}

#[test]
fn thread_guard_refuses_to_fork_a_threaded_process() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let launch = sandbox.launch("fixture-threaded", &[("APP_PIDFILE", os(&pidfile))]);
    assert_failed_cleanly(
        &sandbox,
        &launch,
        "refusing to fork: the process already runs 2 threads; \
         detach before any thread or async runtime starts",
        &pidfile,
    );
    assert_eq!(
        launch.stdout, "",
        "main ran although the detach was refused"
    );

    // The check comes before the pidfile, which is locked before the first
    // fork: with a pidfile that cannot even be created, the thread count is
    // still what fails, so nothing got as far as forking.
    let unreachable = sandbox.path("missing/app.pid");
    let launch = sandbox.launch("fixture-threaded", &[("APP_PIDFILE", os(&unreachable))]);
    assert_failed_cleanly(
        &sandbox,
        &launch,
        "refusing to fork: the process already runs 2 threads; \
         detach before any thread or async runtime starts",
        &unreachable,
    );
}

#[test]
fn missing_workdir_fails_in_the_launcher_and_leaves_nothing() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let workdir = sandbox.path("nope");
    let launch = sandbox.launch(
        "fixture-quiet",
        &[("APP_PIDFILE", os(&pidfile)), ("APP_WORKDIR", os(&workdir))],
    );
    let line = format!("workdir {}: No such file or directory", workdir.display());
    assert_failed_cleanly(&sandbox, &launch, &line, &pidfile);
}

#[test]
fn workdir_that_is_a_file_fails_and_leaves_nothing() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let workdir = sandbox.path("file");
    fs::write(&workdir, "").unwrap();
    let launch = sandbox.launch(
        "fixture-quiet",
        &[("APP_PIDFILE", os(&pidfile)), ("APP_WORKDIR", os(&workdir))],
    );
    let line = format!("workdir {}: Not a directory", workdir.display());
    assert_failed_cleanly(&sandbox, &launch, &line, &pidfile);
}

#[test]
fn missing_pidfile_directory_fails_and_leaves_nothing() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("missing/app.pid");
    let launch = sandbox.launch("fixture-quiet", &[("APP_PIDFILE", os(&pidfile))]);
    let line = format!("pidfile {}: No such file or directory", pidfile.display());
    assert_failed_cleanly(&sandbox, &launch, &line, &pidfile);
}

#[test]
fn log_file_that_cannot_be_opened_fails_and_leaves_nothing() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let log = sandbox.path("a-directory");
    fs::create_dir(&log).unwrap();
    let launch = sandbox.launch(
        "plain",
        &[("APP_PIDFILE", os(&pidfile)), ("APP_LOG", os(&log))],
    );
    let line = format!("stdout {}: Is a directory", log.display());
    assert_failed_cleanly(&sandbox, &launch, &line, &pidfile);
}

#[test]
fn umask_out_of_range_at_run_time_fails_before_forking() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let launch = sandbox.launch(
        "fixture-quiet",
        &[
            ("APP_PIDFILE", os(&pidfile)),
            ("APP_UMASK", OsStr::new("1000")),
        ],
    );
    let line = "umask 0o1000: out of range, the largest is 0o777";
    assert_failed_cleanly(&sandbox, &launch, line, &pidfile);
}

/// Reads the `addr:` line from the log, connects, and checks that the
/// detached daemon itself answers.
fn assert_serves_after_detaching(binary: &str) {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("server.pid");
    let log = sandbox.path("server.log");
    let launch = sandbox.launch(
        binary,
        &[("APP_PIDFILE", os(&pidfile)), ("APP_LOG", os(&log))],
    );
    let pid = daemon_pid(&launch, &pidfile);
    let daemon = stat(pid);
    assert_ne!(daemon.session, launch.pid);
    assert_eq!(daemon.tty_nr, 0);

    let mut addr = None;
    assert!(
        wait_until(EXIT, || {
            let text = fs::read_to_string(&log).unwrap_or_default();
            addr = text
                .lines()
                .find_map(|line| line.strip_prefix("addr: "))
                .map(str::to_owned);
            addr.is_some()
        }),
        "no addr: line in the log"
    );
    let mut stream = TcpStream::connect(addr.unwrap()).expect("connect to the daemon");
    stream.set_read_timeout(Some(EXIT)).unwrap();
    let mut greeting = String::new();
    stream.read_to_string(&mut greeting).unwrap();
    assert_eq!(greeting, format!("hello from pid {pid}\n"));
    assert!(
        threads(pid) > 1,
        "the runtime's worker threads should run in the daemon"
    );
    stop(pid, &pidfile);
}

#[test]
fn tokio_below_daemon_serves_after_detaching() {
    assert_serves_after_detaching("tokio_server");
}

#[test]
fn tokio_above_daemon_serves_after_detaching() {
    assert_serves_after_detaching("fixture-tokio-above");
}

/// The launcher reaps the intermediate process before it exits, the daemon
/// ready or not: an intermediate left to the launcher's parent would stay a
/// zombie under a PID 1, or a subreaper, that reaps nothing. The parent here
/// is such a subreaper: it waits for the launcher alone, then lists the
/// zombies among its children.
#[test]
fn the_launcher_leaves_no_zombie_intermediate_to_its_parent() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("quiet.pid");
    let script = r#"
import ctypes, os, subprocess, sys, time
PR_SET_CHILD_SUBREAPER = 36
ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
launcher = subprocess.Popen(sys.argv[1:])
launcher.wait()
time.sleep(0.3)
zombies = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        state, parent = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[:2]
    except OSError:
        continue
    if state == "Z" and int(parent) == os.getpid():
        zombies.append(pid)
print(launcher.returncode, "zombies:", " ".join(zombies))
"#;
    let mut command = sandbox.command_for("python3");
    command
        .args(["-c", script])
        .arg(support::example("fixture-quiet"))
        .env("APP_PIDFILE", &pidfile);
    let launch = Running::spawn(command).wait();
    let daemon = wait_for_pidfile(&pidfile);
    assert_eq!(launch.stdout, "0 zombies: \n", "{launch:?}");
    stop(daemon, &pidfile);
}

/// A user in hundreds of groups (a directory's, say) has a `Groups:` line
/// of kilobytes in `/proc/self/status`, before the thread count the start
/// reads there: the start reads it whole, and detaches.
#[test]
fn a_launcher_in_hundreds_of_groups_still_detaches() {
    if !support::is_root("a_launcher_in_hundreds_of_groups_still_detaches") {
        return;
    }
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("quiet.pid");
    // 700 ten-digit gids: a `Groups:` line of about 7.7 KiB.
    let groups: Vec<libc::gid_t> = (0..700).map(|i| 1_000_000_000 + i).collect();
    let mut command = sandbox.command("fixture-quiet");
    command.env("APP_PIDFILE", &pidfile);
    // SAFETY: setgroups is async-signal-safe; `groups` outlives the spawn.
    unsafe {
        let groups = groups.clone();
        command.pre_exec(move || {
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let launch = Running::spawn(command).wait();
    assert_eq!(launch.status.code(), Some(0), "{launch:?}");
    let daemon = pid_in(&pidfile);
    // Detached: another process, alive, in a session of its own.
    assert_ne!(daemon, launch.pid);
    assert!(alive(daemon));
    assert_ne!(
        getsid(Some(nix::unistd::Pid::from_raw(daemon))),
        getsid(None)
    );
    let groups_line = support::status_line(daemon, "Groups");
    assert!(groups_line.len() > 7000, "{}", groups_line.len());
    stop(daemon, &pidfile);
}

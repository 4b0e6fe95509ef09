//! The upgrade's hand-over, stage by stage: a new process that is late, an
//! old one killed in the middle of its commit, a `stop` that meets an
//! upgrade, commands refused for a signal the daemon does not handle, and a
//! new process under a user drop that the user cannot read from. Each is
//! replayed against `tests/fixtures/handover.rs`, paused at the stage by the
//! hidden hook `daemonic::__testing::pause_hand_over`, and observed from
//! outside.
// Linux only: these tests read /proc/<pid> to see the daemons from outside.
#![cfg(target_os = "linux")]

mod support;

use support::app::App;

use std::fs;
use std::io::Read;
use std::net::TcpStream;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::libc;
use nix::sys::signal::{kill, Signal};
use nix::unistd::{Pid, User};
use support::{
    alive, daemon_pid, directory_of, is_root, nobody, said, signal_mask, status_line,
    wait_for_line, wait_for_sigwait, wait_until, Running, Sandbox, EXIT,
};

/// The pid of a log line `PREFIX<pid>`.
fn pid_after(line: &str, prefix: &str) -> i32 {
    line.strip_prefix(prefix)
        .and_then(|pid| pid.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid in {line:?}"))
}

/// `pid` is the daemon by every account: the only process of the sandbox,
/// `running (pid N)` for `status`, `already running (pid N)` for `start`;
/// and then `stop` stops it, leaving nothing.
fn assert_the_daemon_alone_then_stop(sandbox: &Sandbox, app: &App, pid: i32) {
    assert!(
        wait_until(EXIT, || sandbox.processes() == [pid]),
        "not {pid} alone: {:?}",
        sandbox.processes()
    );
    let running = format!("running (pid {pid})");
    assert_eq!(
        said(&app.run(sandbox, "status")),
        (Some(0), running.as_str())
    );
    let already = format!("already running (pid {pid})");
    assert_eq!(
        said(&app.run(sandbox, "start")),
        (Some(0), already.as_str())
    );
    let stopped = format!("stopped (pid {pid})");
    assert_eq!(said(&app.run(sandbox, "stop")), (Some(0), stopped.as_str()));
    assert!(sandbox.wait_all_gone(EXIT), "{:?}", sandbox.processes());
}

/// The new process is still inside its ready() (paused 4 s) when the old
/// one's 2 s `ready_timeout` passes: the old one stops it, and stays the
/// daemon, by every account: the only process, named by the pidfile, and
/// so said by `status` and by `start`.
#[test]
fn a_new_process_late_past_the_deadline_leaves_the_old_one_the_daemon() {
    let sandbox = Sandbox::new();
    let app = App::new(
        &sandbox,
        "fixture-handover",
        &[
            ("APP_READY_TIMEOUT", "2"),
            ("FIXTURE_PAUSE", "before-ready:4000"),
        ],
    );
    let old = app.start(&sandbox);
    kill(Pid::from_raw(old), Signal::SIGUSR2).unwrap();
    let failed = wait_for_line(&app.log, "upgrade failed: ");
    assert!(failed.contains("not ready"), "{failed}");
    assert_eq!(
        fs::read_to_string(&app.pidfile).unwrap(),
        format!("{old}\n")
    );
    assert_the_daemon_alone_then_stop(&sandbox, &app, old);
}

/// The old process has written the new pid and is paused before it
/// truncates the file and acks the new one; it is killed there. The new
/// process, which the file names, stays the daemon: the only process, said
/// by `status` and by `start`, and stopped by `stop`.
#[test]
fn the_old_process_killed_between_its_two_pid_writes_leaves_the_new_one_the_daemon() {
    let sandbox = Sandbox::new();
    let app = App::new(
        &sandbox,
        "fixture-handover",
        &[("FIXTURE_PAUSE", "between-pid-writes:3000")],
    );
    let old = app.start(&sandbox);
    let new = app.upgrade_until_committed(old);
    kill(Pid::from_raw(old), Signal::SIGKILL).unwrap();
    assert!(wait_until(EXIT, || !alive(old)));
    assert!(
        wait_until(EXIT, || sandbox.processes() == [new]),
        "not the new process alone: {:?} (new {new})",
        sandbox.processes()
    );
    // A moment later, still: it did not go with the old one.
    std::thread::sleep(Duration::from_millis(500));
    assert!(alive(new), "the new process went with the old one");
    assert_the_daemon_alone_then_stop(&sandbox, &app, new);
}

/// The old process has written the new pid and is paused before it
/// truncates the file and acks; the new process is killed there. The ack
/// fails, and the old process writes its own pid back: it is the only
/// process, `status` and `start` name it, and the file names it, not the
/// dead pid that nobody could then control.
#[test]
fn the_new_process_killed_during_the_commit_leaves_the_old_one_the_daemon() {
    let sandbox = Sandbox::new();
    let app = App::new(
        &sandbox,
        "fixture-handover",
        &[("FIXTURE_PAUSE", "between-pid-writes:2000")],
    );
    let old = app.start(&sandbox);
    let new = app.upgrade_until_committed(old);
    kill(Pid::from_raw(new), Signal::SIGKILL).unwrap();
    assert!(
        wait_until(EXIT, || app.first_line_pid() == Some(old)),
        "the old process did not write its pid back: {:?}",
        fs::read_to_string(&app.pidfile)
    );
    assert_eq!(
        fs::read_to_string(&app.pidfile).unwrap(),
        format!("{old}\n")
    );
    assert_the_daemon_alone_then_stop(&sandbox, &app, old);
}

/// The old process takes the Ready in time, then takes longer to commit
/// than the new process's own deadline (paused 3 s before its commit, with
/// `ready_timeout` 2 s): the new process waits for the ack, which is the
/// hand-over's one word, and becomes the daemon. Had it given up at its
/// deadline and left, the old one would have handed over to nobody.
#[test]
fn a_commit_slower_than_the_new_process_deadline_still_hands_over() {
    let sandbox = Sandbox::new();
    let app = App::new(
        &sandbox,
        "fixture-handover",
        &[
            ("APP_READY_TIMEOUT", "2"),
            ("FIXTURE_PAUSE", "before-commit:3000"),
        ],
    );
    let old = app.start(&sandbox);
    kill(Pid::from_raw(old), Signal::SIGUSR2).unwrap();
    let new = pid_after(
        &wait_for_line(&app.log, "handed over to "),
        "handed over to ",
    );
    assert!(wait_until(EXIT, || !alive(old)));
    assert_the_daemon_alone_then_stop(&sandbox, &app, new);
}

/// `stop` right after SIGUSR2, while the new build (a script that sleeps
/// 2 s first) starts: the old process hands over and exits, and `stop`
/// follows the pidfile to its successor and stops it too, saying so. No
/// process is left, and `status` says none runs.
#[test]
fn stop_during_an_upgrade_stops_everything_and_says_so_truly() {
    let sandbox = Sandbox::new();
    let app = App::new(&sandbox, "fixture-handover", &[]);
    let old = app.start(&sandbox);
    // v2 at the app's path, by a rename: the same build, 2 s late to start.
    let real = sandbox.copy_binary("fixture-handover", "app-v2");
    app.install_script(
        &sandbox,
        &format!("sleep 2\nexec {} \"$@\"", real.display()),
    );

    kill(Pid::from_raw(old), Signal::SIGUSR2).unwrap();
    // Through the real binary: the script would wait 2 s before it ran.
    let answer = Running::spawn(app.command_of(&sandbox, &real, Some("stop"))).wait();
    assert_eq!(answer.status.code(), Some(0), "{answer:?}");
    assert!(
        !answer.stderr.contains("still runs after SIGKILL"),
        "{answer:?}"
    );
    let handed = wait_for_line(&app.log, "handed over to ");
    let new = pid_after(&handed, "handed over to ");
    assert_eq!(
        answer.stdout.lines().last(),
        Some(format!("stopped (pid {new})").as_str()),
        "{answer:?}"
    );
    assert!(
        sandbox.wait_all_gone(EXIT),
        "left running: {:?} (old {old}, new {new})",
        sandbox.processes()
    );
    let status = Running::spawn(app.command_of(&sandbox, &real, Some("status"))).wait();
    assert!(
        matches!(status.status.code(), Some(3 | 1)),
        "status after stop: {status:?}"
    );
}

/// A new build that writes its own pid into the pidfile and exits 3, as
/// a broken or hostile one may: the old process serves on, and the file
/// names it again, so `status` and `stop` still find it.
#[test]
fn a_new_build_that_wrote_the_pidfile_and_failed_leaves_it_naming_the_old_one() {
    let sandbox = Sandbox::new();
    let app = App::new(&sandbox, "fixture-handover", &[]);
    let old = app.start(&sandbox);
    let scribbled = sandbox.path("scribbled");
    app.install_script(
        &sandbox,
        &format!(
            "echo $$ > \"$APP_PIDFILE\"\necho $$ > {}\nexit 3",
            scribbled.display()
        ),
    );
    kill(Pid::from_raw(old), Signal::SIGUSR2).unwrap();
    let failed = wait_for_line(&app.log, "upgrade failed: ");
    assert!(failed.contains("status 3"), "{failed}");
    // The script did write the pidfile before it exited.
    assert!(scribbled.exists());
    assert_eq!(
        fs::read_to_string(&app.pidfile).unwrap(),
        format!("{old}\n")
    );
    // The commands run the real build again, not the script.
    sandbox.copy_binary("fixture-handover", "app");
    assert_the_daemon_alone_then_stop(&sandbox, &app, old);
}

/// After an upgrade that succeeded, a second call in the old process is
/// refused (`another upgrade is running`) and starts nothing: one new
/// process, the daemon.
#[test]
fn a_second_upgrade_after_a_hand_over_is_refused_and_starts_nothing() {
    let sandbox = Sandbox::new();
    let app = App::new(
        &sandbox,
        "fixture-handover",
        &[("FIXTURE_UPGRADE_TWICE", "1")],
    );
    let old = app.start(&sandbox);
    kill(Pid::from_raw(old), Signal::SIGUSR2).unwrap();
    let second = wait_for_line(&app.log, "second upgrade: ");
    assert_eq!(
        second,
        "second upgrade: upgrade: another upgrade is running"
    );
    let new = pid_after(
        &wait_for_line(&app.log, "handed over to "),
        "handed over to ",
    );
    assert!(wait_until(EXIT, || !alive(old)));
    assert_the_daemon_alone_then_stop(&sandbox, &app, new);
}

/// Two threads of the old process call `upgrade()` at once, while the new
/// build takes a second to start: exactly one new process is started and
/// becomes the daemon, and the other call is refused.
#[test]
fn two_upgrades_at_once_start_one_new_process() {
    let sandbox = Sandbox::new();
    let app = App::new(
        &sandbox,
        "fixture-handover",
        &[("FIXTURE_UPGRADE_THREADS", "1")],
    );
    let old = app.start(&sandbox);
    let real = sandbox.copy_binary("fixture-handover", "app-v2");
    app.install_script(
        &sandbox,
        &format!("sleep 1\nexec {} \"$@\"", real.display()),
    );
    kill(Pid::from_raw(old), Signal::SIGUSR2).unwrap();
    let outcomes = wait_for_line(&app.log, "concurrent upgrades: ");
    assert_eq!(outcomes, "concurrent upgrades: 1 succeeded, 1 refused");
    let new = pid_after(
        &wait_for_line(&app.log, "handed over to "),
        "handed over to ",
    );
    assert!(wait_until(EXIT, || !alive(old)));
    assert_the_daemon_alone_then_stop(&sandbox, &app, new);
}

/// `app upgrade` against a daemon whose new process is never ready in
/// time: exit 1 after `ready_timeout` + 5 s, with the documented line, and
/// the old process serves on.
#[test]
fn the_upgrade_command_exits_1_when_no_new_process_takes_over() {
    let sandbox = Sandbox::new();
    let app = App::new(
        &sandbox,
        "fixture-handover",
        &[
            ("APP_READY_TIMEOUT", "1"),
            ("FIXTURE_PAUSE", "before-ready:3000"),
        ],
    );
    let old = app.start(&sandbox);
    let answer = app.run(&sandbox, "upgrade");
    assert_eq!(answer.status.code(), Some(1), "{answer:?}");
    assert_eq!(
        answer.stderr,
        format!(
            "daemonic: upgrade: pid {old} was signalled, and no new process held the pidfile \
             after 6s\n"
        )
    );
    assert_the_daemon_alone_then_stop(&sandbox, &app, old);
}

/// `service upgrade` against `examples/service.rs`, which neither catches,
/// blocks nor ignores SIGUSR2 (whose default would kill it): refused with
/// exit 3 at once, naming the signal, and nothing sent.
#[test]
fn upgrade_of_a_daemon_without_a_sigusr2_handler_is_refused_and_sends_nothing() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("service.pid");
    let service = |command: Option<&str>| {
        let mut service = sandbox.command("service");
        service
            .args(command)
            .env("APP_PIDFILE", &pidfile)
            .env("APP_LOG", sandbox.path("service.log"));
        Running::spawn(service).wait()
    };
    let pid = daemon_pid(&service(None), &pidfile);
    wait_for_sigwait(pid);
    let started = Instant::now();
    let answer = service(Some("upgrade"));
    let took = started.elapsed();
    assert_eq!(answer.status.code(), Some(3), "{answer:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(answer.stdout, "", "{answer:?}");
    assert!(
        answer.stderr.starts_with("daemonic: ")
            && answer.stderr.ends_with('\n')
            && answer.stderr.lines().count() == 1,
        "not one line: {answer:?}"
    );
    assert!(answer.stderr.contains("SIGUSR2"), "{answer:?}");
    assert!(alive(pid), "the daemon died");
    assert_eq!(status_line(pid, "SigPnd"), "0000000000000000");
    assert_eq!(status_line(pid, "ShdPnd"), "0000000000000000");
    let running = format!("running (pid {pid})");
    let status = service(Some("status"));
    assert_eq!(said(&status), (Some(0), running.as_str()));
}

/// `app reload` against `examples/upgrade.rs`, a tokio server that handles
/// SIGUSR2 and SIGTERM but not SIGHUP (whose default would kill it):
/// refused with exit 3, naming the signal; the server lives and answers.
#[test]
fn reload_of_a_daemon_without_a_sighup_handler_is_refused_and_sends_nothing() {
    let sandbox = Sandbox::new();
    let path = sandbox.copy_binary("upgrade", "app");
    let pidfile = sandbox.path("app.pid");
    let command = |arg: Option<&str>| {
        let mut command = sandbox.command_for(&path);
        command
            .args(arg)
            .env("APP_PIDFILE", &pidfile)
            .env("APP_LOG", sandbox.path("app.log"))
            .env("APP_READY_TIMEOUT", "30");
        Running::spawn(command).wait()
    };
    let launch = command(None);
    let pid = daemon_pid(&launch, &pidfile);
    let addr = support::addr_of(&launch);
    let sighup = 1 << (libc::SIGHUP - 1);
    assert_eq!(signal_mask(pid, "SigCgt") & sighup, 0, "it catches SIGHUP");

    let answer = command(Some("reload"));
    assert_eq!(answer.status.code(), Some(3), "{answer:?}");
    assert!(answer.stderr.contains("SIGHUP"), "{answer:?}");
    std::thread::sleep(Duration::from_millis(100));
    assert!(alive(pid), "the server died");
    assert_eq!(status_line(pid, "SigPnd"), "0000000000000000");
    assert_eq!(status_line(pid, "ShdPnd"), "0000000000000000");
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream.set_read_timeout(Some(EXIT)).unwrap();
    let mut served = String::new();
    stream.read_to_string(&mut served).unwrap();
    assert_eq!(served.trim_end(), format!("v1 pid {pid}"));
}

/// `pidfd_open(pid)`, then `pidfd_getfd` of each of `fds`, from a process
/// running as `user`: each result, or the errno. The calls are made in the
/// child between its fork and its exec of `true`, after std's setuid, and
/// written to a pipe.
fn pidfd_getfd_as(
    sandbox: &Sandbox,
    user: &User,
    pid: i32,
    fds: [i32; 6],
) -> Vec<Result<i32, Errno>> {
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
    let (read, write): (OwnedFd, OwnedFd) = (read, write);
    let out = write.as_raw_fd();
    let mut command = sandbox.command_for("true");
    command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
    // SAFETY: only syscalls and a write, which are async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            let errno = || -std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            let mut results = [0i32; 7];
            let pidfd = libc::syscall(libc::SYS_pidfd_open, pid, 0) as i32;
            results[0] = if pidfd < 0 { errno() } else { pidfd };
            for (i, &fd) in fds.iter().enumerate() {
                let got = libc::syscall(libc::SYS_pidfd_getfd, pidfd, fd, 0) as i32;
                results[i + 1] = if got < 0 { errno() } else { got };
            }
            let len = std::mem::size_of_val(&results);
            libc::write(out, results.as_ptr().cast(), len);
            Ok(())
        });
    }
    let ran = Running::spawn(command).wait();
    assert!(ran.status.success(), "{ran:?}");
    drop(write);
    let mut bytes = [0u8; 28];
    fs::File::from(read).read_exact(&mut bytes).unwrap();
    let results: Vec<i32> = bytes
        .chunks(4)
        .map(|b| i32::from_ne_bytes(b.try_into().unwrap()))
        .collect();
    assert!(
        results[0] >= 0,
        "pidfd_open({pid}): {}",
        Errno::from_raw(-results[0])
    );
    results[1..]
        .iter()
        .map(|&r| {
            if r < 0 {
                Err(Errno::from_raw(-r))
            } else {
                Ok(r)
            }
        })
        .collect()
}

/// A daemon that drops to nobody upgrades: the new process, started by
/// nobody's exec of a plain binary, would be dumpable, and any process of
/// nobody's could take its fds (the locked pidfile, the sockets) with
/// pidfd_getfd. It must make itself undumpable first: `/proc/<new>/fd` is
/// root's, and pidfd_getfd from nobody fails with EPERM.
#[test]
fn after_an_upgrade_under_a_user_drop_the_new_process_is_undumpable() {
    if !is_root("after_an_upgrade_under_a_user_drop_the_new_process_is_undumpable") {
        return;
    }
    let sandbox = Sandbox::new();
    let nobody = nobody();
    let run = directory_of(&sandbox, "run", &nobody);
    let app = App::in_dir(
        &sandbox,
        "fixture-handover-user",
        &run,
        &[("APP_USER", "nobody")],
    );
    // The daemon's user owns the pidfile, so that it can commit the hand-over.
    fs::write(&app.pidfile, "").unwrap();
    std::os::unix::fs::chown(&app.pidfile, Some(nobody.uid.as_raw()), None).unwrap();
    let old = app.start(&sandbox);
    let nobodys = format!("{0} {0} {0} {0}", nobody.uid.as_raw());
    assert_eq!(status_line(old, "Uid"), nobodys);

    let answer = app.run(&sandbox, "upgrade");
    let new = app.first_line_pid().expect("a pid in the pidfile");
    assert_ne!(new, old);
    let upgraded = format!("upgraded (pid {old} to {new})");
    assert_eq!(said(&answer), (Some(0), upgraded.as_str()));
    assert!(alive(new));
    assert_eq!(status_line(new, "Uid"), nobodys);

    let owner = fs::metadata(format!("/proc/{new}/fd")).unwrap().uid();
    assert_eq!(
        owner, 0,
        "/proc/{new}/fd belongs to uid {owner}: the process is dumpable"
    );
    let got = pidfd_getfd_as(&sandbox, &nobody, new, [0, 1, 2, 3, 4, 5]);
    println!("pidfd_getfd of fds 0..=5 of {new}, as nobody: {got:?}");
    assert!(
        got.iter().all(|result| *result == Err(Errno::EPERM)),
        "nobody took fds of the new process: {got:?}"
    );

    kill(Pid::from_raw(new), Signal::SIGTERM).unwrap();
    assert!(wait_until(EXIT, || !alive(new)));
    assert!(sandbox.wait_all_gone(EXIT), "{:?}", sandbox.processes());
}

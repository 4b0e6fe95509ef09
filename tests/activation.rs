//! What a process takes from its environment at the start, and what it
//! leaves to the programs it starts: the `sd_listen_fds` variables of
//! socket activation, and `DAEMONIC_UPGRADE`, the hand-over's. Each test
//! is a promise of `daemon-core/src/activation.rs` or of the hand-over
//! (`daemon-core/src/upgrade.rs`, `Daemon::take_over`), observed from
//! outside: in the log, `/proc/<pid>/fd`, and the launcher's exit.
// Linux only: these tests read /proc/<pid> to see the daemons from outside.
#![cfg(target_os = "linux")]

mod support;

use support::app::App;

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::libc;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::{
    alive, ask, assert_failed_cleanly, daemon_pid, fds, has_socket_activator, inherit_fds, pid_in,
    stop, stop_now, wait_for_line, wait_for_sigwait, wait_until, Running, Sandbox, EXIT,
};

/// What `/proc/<pid>/fd/<fd>` shows of this process's `fd`: for a socket,
/// `socket:[INODE]`, the same in every process that holds it.
fn target_of(fd: i32) -> PathBuf {
    fs::read_link(format!("/proc/self/fd/{fd}")).expect("read our own fd")
}

/// `fixture-activation` under a real `systemd-socket-activate -l ADDR
/// --fdname=http`: a connection makes the activator exec the fixture with
/// the socket at fd 3 and `LISTEN_PID` its own pid; the fixture detaches
/// and its launcher exits 0 once it is ready. The daemon's pid and log.
fn start_activated(sandbox: &Sandbox) -> (i32, PathBuf, PathBuf) {
    let path = sandbox.copy_binary("fixture-activation", "app");
    let pidfile = sandbox.path("app.pid");
    let log = sandbox.path("app.log");
    let (mut activator, addr) = support::socket_activator(sandbox, &pidfile, &log);
    activator.arg(&path);
    let activator = Running::spawn(activator);
    // The activator listens now, or soon; the first connection starts the
    // program, which never accepts it: it only has to arrive.
    let deadline = Instant::now() + EXIT;
    let _connection = loop {
        match TcpStream::connect(&addr) {
            Ok(stream) => break stream,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("connect to the activator at {addr}: {e}"),
        }
    };
    // The activator execs the program in place: its exit is the launcher's.
    let launch = activator.wait();
    assert!(launch.status.success(), "{launch:?}");
    (pid_in(&pidfile), pidfile, log)
}

/// Promise: `DAEMONIC_UPGRADE` is obeyed only by the process that the old
/// one started; a process whose parent is not the pid it names refuses to
/// take anything over: exit 1, one line naming that pid, nothing started,
/// no pidfile. Here `service start` inherits the variable by hand, naming
/// pid 1, with fds 3 and 4 open as it says.
///
/// Kills M8: `take_hand_over`'s `if nix::unistd::getppid().as_raw() !=
/// parent {` turned into `if false {` (the take-over then goes on, and fails
/// later, for another reason).
#[test]
fn a_hand_over_variable_naming_another_parent_is_refused() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("service.pid");
    let mut command = sandbox.command("service");
    command
        .arg("start")
        .env("APP_PIDFILE", &pidfile)
        .env("APP_LOG", sandbox.path("service.log"))
        .env("DAEMONIC_UPGRADE", "-,3,4,1,0");
    inherit_fds(&mut command, &[3, 4]);
    let launch = Running::spawn(command).wait();
    assert_failed_cleanly(
        &sandbox,
        &launch,
        "upgrade hand-over: the process that handed over, pid 1, is not this one's parent",
        &pidfile,
    );
    assert_eq!(launch.stdout, "", "{launch:?}");
}

/// Promise: a new process closes every fd the old one let through but the
/// ones handed over, as the detach does. The old daemon opens a file
/// without close-on-exec (at fd 20 or above) just before it upgrades on
/// SIGUSR2; once the pidfile names the new process and the old one has
/// exited, the new one does not hold that file.
///
/// Kills M11: `Daemon::take_over`'s `unsafe { fds::close_fds_except(&keep)
/// }.map_err(Error::CloseFds)?;` replaced by `let _ = &keep;`.
#[test]
fn an_fd_the_old_process_leaks_is_closed_in_the_new_one() {
    let sandbox = Sandbox::new();
    let leaked = sandbox.path("leaked.txt");
    fs::write(&leaked, "not for the new process\n").unwrap();
    let leaked_str = leaked.to_str().unwrap();
    let app = App::new(
        &sandbox,
        "fixture-handover",
        &[("FIXTURE_LEAK_FD", leaked_str)],
    );
    let old = app.start(&sandbox);
    let new = app.upgrade(old);
    // The old process did leak it, to the new one's exec.
    let line = wait_for_line(&app.log, "leaking fd ");
    assert!(line.ends_with(&format!("({leaked_str})")), "{line}");
    let handed = wait_for_line(&app.log, "handed over to ");
    assert_eq!(handed, format!("handed over to {new}"));
    let open = fds(new);
    assert!(
        !open.values().any(|target| target == &leaked),
        "the new process {new} holds the leaked file: {open:?}"
    );
    // What it does hold: stdio and the pidfile.
    assert!(
        open.values().any(|target| target == &app.pidfile),
        "{open:?}"
    );
    wait_for_sigwait(new);
    stop_now(new, &app.pidfile);
}

/// Promise: `LISTEN_FDS` with a `LISTEN_PID` that is not this process's is
/// someone else's: its fds are not taken. `examples/upgrade.rs`, which
/// serves on `daemonic::listeners()` if it has one and binds its own
/// address otherwise, is started with `LISTEN_FDS=1 LISTEN_PID=1` and the
/// test's own listening socket at fd 3: it binds another address, serves
/// there, and holds no copy of the test's socket.
///
/// Kills M12: `take_from_env`'s `|| env::var("LISTEN_PID").is_ok_and(|pid|
/// pid == std::process::id().to_string());` turned into `|| true;`.
#[test]
fn listen_fds_for_another_pid_are_left_alone() {
    let sandbox = Sandbox::new();
    let theirs = TcpListener::bind("127.0.0.1:0").unwrap();
    let their_addr = theirs.local_addr().unwrap().to_string();
    let their_target = target_of(theirs.as_raw_fd());
    let pidfile = sandbox.path("app.pid");
    let mut command = sandbox.command("upgrade");
    command
        .env("APP_PIDFILE", &pidfile)
        .env("APP_LOG", sandbox.path("app.log"))
        .env("APP_READY_TIMEOUT", "30")
        .env("LISTEN_FDS", "1")
        .env("LISTEN_PID", "1")
        .env("LISTEN_FDNAMES", "http");
    let fd = theirs.as_raw_fd();
    // SAFETY: fcntl and dup2 are async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            // dup2 clears close-on-exec on its target; onto itself it does
            // nothing, so then the flag is cleared by hand.
            let done = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if done == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let launch = Running::spawn(command).wait();
    let pid = daemon_pid(&launch, &pidfile);
    let addr = support::addr_of(&launch);
    assert_ne!(addr, their_addr, "it serves on the test's socket");
    assert_eq!(ask(&addr).unwrap(), format!("v1 pid {pid}"));
    let open = fds(pid);
    assert!(
        !open.values().any(|target| target == &their_target),
        "the daemon {pid} holds the test's socket {their_target:?}: {open:?}"
    );
    kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    assert!(wait_until(EXIT, || !alive(pid)), "{pid} ignored SIGTERM");
}

/// Promise: the `sd_listen_fds` variables are removed once their fds are
/// taken, so that a program the daemon starts does not take them for its
/// own. Under a real `systemd-socket-activate`, the fixture's `sh` child
/// sees `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES` unset.
///
/// Kills M14: `take_from_env`'s `env::remove_var(name);` in the loop over
/// `["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]` removed.
#[test]
fn a_program_the_activated_daemon_starts_sees_no_listen_variables() {
    if !has_socket_activator("a_program_the_activated_daemon_starts_sees_no_listen_variables") {
        return;
    }
    let sandbox = Sandbox::new();
    let (pid, pidfile, log) = start_activated(&sandbox);
    // It did take the socket: the variables were its own.
    assert_eq!(
        wait_for_line(&log, "listeners: "),
        "listeners: 1 (http), then 0"
    );
    assert_eq!(
        wait_for_line(&log, "child sees "),
        "child sees LISTEN_FDS=unset LISTEN_PID=unset LISTEN_FDNAMES=unset"
    );
    stop(pid, &pidfile);
}

/// Promise: `listeners()` hands each socket out once: "empty ... on any
/// call after the first, which took them", so no fd gets two owners. Under
/// a real `systemd-socket-activate`, the fixture's first call gives the one
/// socket, named `http`, and its second call nothing.
///
/// Kills M15: `listeners()`'s `std::mem::take(&mut *HANDED.lock()...)`
/// replaced by `HANDED.lock()....clone()`.
#[test]
fn listeners_hands_the_activated_socket_out_once() {
    if !has_socket_activator("listeners_hands_the_activated_socket_out_once") {
        return;
    }
    let sandbox = Sandbox::new();
    let (pid, pidfile, log) = start_activated(&sandbox);
    assert_eq!(
        wait_for_line(&log, "listeners: "),
        "listeners: 1 (http), then 0"
    );
    // The socket is the daemon's, at fd 3.
    let open = fds(pid);
    assert!(
        open.get(&3)
            .is_some_and(|target| target.to_string_lossy().starts_with("socket:")),
        "{open:?}"
    );
    stop(pid, &pidfile);
}

/// Promise: `DAEMONIC_UPGRADE` is for the new process alone, which removes
/// it as it takes over: a program it starts sees it unset, and so does not
/// take itself for a new process of an upgrade. The new process of
/// `fixture-handover` (`FIXTURE_CHILD_ENV`) starts `sh`, which logs it.
/// Nor does it see `LISTEN_FDS`, which an upgrade that hands no socket
/// sets to 0: the variables go whether they held fds or not.
///
/// Kills M21: `take_hand_over`'s `std::env::remove_var(UPGRADE_ENV);`
/// removed; and an early return that kept `LISTEN_FDS=0`.
#[test]
fn a_program_the_new_process_starts_sees_no_hand_over_variable() {
    let sandbox = Sandbox::new();
    let app = App::new(&sandbox, "fixture-handover", &[("FIXTURE_CHILD_ENV", "1")]);
    let old = app.start(&sandbox);
    assert_eq!(
        wait_for_line(&app.log, &format!("child of {old} sees ")),
        format!("child of {old} sees DAEMONIC_UPGRADE=unset LISTEN_FDS=unset")
    );
    let new = app.upgrade(old);
    assert_eq!(
        wait_for_line(&app.log, &format!("child of {new} sees ")),
        format!("child of {new} sees DAEMONIC_UPGRADE=unset LISTEN_FDS=unset")
    );
    wait_for_sigwait(new);
    stop_now(new, &app.pidfile);
}

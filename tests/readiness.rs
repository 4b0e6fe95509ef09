//! Readiness, foreground and systemd, observed from outside: when the
//! launcher exits and what it prints, and which process runs where.
// Linux only: these tests read /proc/<pid> to see the daemon from outside.
// On FreeBSD and macOS the crate is compile-checked, not run-tested.
#![cfg(target_os = "linux")]

mod support;

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::net::TcpStream;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::libc;
use nix::sys::signal::{kill, Signal};
use nix::unistd::{getsid, Pid};
use support::{
    alive, assert_failed_cleanly, cwd, daemon_pid, os, pid_in, stat, stop, umask, wait_until,
    Launch, Running, Sandbox, EXIT,
};

/// Runs `fixture-notify` doing `behaviour` before it is ready, to its
/// launcher's exit.
fn launch_notify(
    sandbox: &Sandbox,
    pidfile: &Path,
    behaviour: &str,
    ready_timeout: Option<&str>,
) -> Launch {
    let mut command = sandbox.command("fixture-notify");
    command
        .env("APP_PIDFILE", pidfile)
        .env("APP_BEHAVIOUR", behaviour);
    if let Some(seconds) = ready_timeout {
        command.env("APP_READY_TIMEOUT", seconds);
    }
    Running::spawn(command).wait()
}

#[test]
fn launcher_relays_status_and_exits_only_after_ready() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let delay = Duration::from_millis(700);
    let started = Instant::now();
    let launch = launch_notify(&sandbox, &pidfile, "ready-after:700", None);
    let elapsed = started.elapsed();
    let pid = daemon_pid(&launch, &pidfile);
    assert!(
        elapsed >= delay,
        "the launcher exited after {elapsed:?}, before the daemon's ready() at {delay:?}"
    );
    // Only the line sent before ready(): later lines have nobody to print them.
    assert_eq!(launch.stdout, "addr: 127.0.0.1:1\n");
    assert!(alive(pid));
    stop(pid, &pidfile);
}

#[test]
fn tokio_server_prints_its_address_through_the_launcher() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("server.pid");
    let launch = sandbox.launch(
        "tokio_server",
        &[
            ("APP_PIDFILE", os(&pidfile)),
            ("APP_LOG", os(&sandbox.path("server.log"))),
        ],
    );
    let pid = daemon_pid(&launch, &pidfile);
    let addr = launch
        .stdout
        .strip_prefix("addr: ")
        .and_then(|rest| rest.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("launcher stdout {:?}", launch.stdout));
    // Ready means listening: the first connection needs no retry.
    let mut greeting = String::new();
    TcpStream::connect(addr)
        .expect("the daemon listens once its launcher exits")
        .read_to_string(&mut greeting)
        .unwrap();
    assert_eq!(greeting, format!("hello from pid {pid}\n"));
    stop(pid, &pidfile);
}

#[test]
fn exit_before_ready_fails_with_the_exit_status() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let launch = launch_notify(&sandbox, &pidfile, "exit:3", None);
    let line = "the daemon exited with status 3 before it was ready";
    assert_failed_cleanly(&sandbox, &launch, line, &pidfile);
}

#[test]
fn panic_before_ready_fails_with_the_panic_message() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let launch = launch_notify(&sandbox, &pidfile, "panic", None);
    let line = launch.stderr.lines().next().unwrap_or_default().to_owned();
    assert!(
        line.starts_with(
            "daemonic: the daemon panicked before it was ready (exit status 101): panicked at \
             tests/fixtures/notify.rs:"
        ) && line.ends_with(": boom before ready"),
        "stderr {:?}",
        launch.stderr
    );
    assert_failed_cleanly(&sandbox, &launch, &line["daemonic: ".len()..], &pidfile);
}

#[test]
fn an_error_returned_by_main_before_ready_is_the_launchers_line() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let launch = launch_notify(&sandbox, &pidfile, "error", None);
    let line = "the daemon exited with status 1 before it was ready: main returned \
                Error: Custom { kind: AddrInUse, error: \"port 1 is taken\" }";
    assert_failed_cleanly(&sandbox, &launch, line, &pidfile);
}

#[test]
fn daemon_killed_before_ready_fails_naming_the_signal() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let mut command = sandbox.command("fixture-notify");
    command
        .env("APP_PIDFILE", &pidfile)
        .env("APP_BEHAVIOUR", "hang");
    let launcher = Running::spawn(command);
    // The pidfile holds the daemon's pid before main runs, long before ready.
    assert!(wait_until(EXIT, || fs::read_to_string(&pidfile)
        .is_ok_and(|text| text.ends_with('\n'))));
    let daemon = pid_in(&pidfile);
    assert_ne!(daemon, launcher.pid);
    kill(Pid::from_raw(daemon), Signal::SIGKILL).unwrap();
    let launch = launcher.wait();
    let line = "the daemon was killed by SIGKILL before it was ready";
    assert_failed_cleanly(&sandbox, &launch, line, &pidfile);
}

#[test]
fn ready_timeout_stops_the_daemon_and_fails() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let launch = launch_notify(&sandbox, &pidfile, "hang", Some("0.5"));
    // The documented behaviour: the daemon is stopped, not left running.
    let line = "the daemon was not ready after 0.5s, so it was stopped";
    assert_failed_cleanly(&sandbox, &launch, line, &pidfile);
}

#[test]
fn ready_timeout_stops_the_helpers_the_daemon_started_too() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    // Seconds enough, on a loaded machine, to start the helper first.
    let launch = launch_notify(&sandbox, &pidfile, "helper-then-hang", Some("3"));
    assert!(launch.stdout.starts_with("helper: "), "{launch:?}");
    // The helper carries the sandbox's token: it must be gone too.
    let line = "the daemon was not ready after 3s, so it was stopped";
    assert_failed_cleanly(&sandbox, &launch, line, &pidfile);
}

#[test]
fn an_exit_before_ready_stops_the_helpers_the_daemon_started_too() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let launch = launch_notify(&sandbox, &pidfile, "helper-then-exit:4", None);
    assert!(launch.stdout.starts_with("helper: "), "{launch:?}");
    let line = "the daemon exited with status 4 before it was ready";
    assert_failed_cleanly(&sandbox, &launch, line, &pidfile);
}

#[test]
fn a_daemon_that_ignores_sigterm_is_killed_at_the_timeout() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let started = Instant::now();
    // A second before the timeout: time enough, on a loaded machine, for
    // the fixture to ignore SIGTERM before it comes.
    let launch = launch_notify(&sandbox, &pidfile, "stubborn", Some("1"));
    let elapsed = started.elapsed();
    // The timeout, then the two seconds SIGTERM is given, then SIGKILL.
    assert!(
        elapsed >= Duration::from_secs(3) && elapsed < Duration::from_secs(10),
        "the launcher took {elapsed:?}"
    );
    let line = "the daemon was not ready after 1s, so it was stopped";
    assert_failed_cleanly(&sandbox, &launch, line, &pidfile);
}

#[test]
fn a_timeout_shorter_than_the_detach_still_stops_the_daemon() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let launch = launch_notify(&sandbox, &pidfile, "hang", Some("0.000001"));
    let line = "the daemon was not ready after 0.000001s, so it was stopped";
    assert_failed_cleanly(&sandbox, &launch, line, &pidfile);
}

/// Starts `fixture-flag`, which must stay in the foreground, and checks that
/// it is the very process spawned, in the test's session, unchanged.
fn assert_stays_in_foreground(args: &[&str], env: &[(&str, &str)]) {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let mut command = sandbox.command("fixture-flag");
    command
        .args(args)
        .env("APP_PIDFILE", &pidfile)
        .envs(env.iter().copied());
    let process = Running::spawn(command);
    assert!(wait_until(EXIT, || pidfile.exists()
        && fs::read_to_string(&pidfile)
            .is_ok_and(|t| t.ends_with('\n'))));
    assert_eq!(pid_in(&pidfile), process.pid, "the process forked");
    let process_stat = stat(process.pid);
    assert_eq!(process_stat.session, getsid(None).unwrap().as_raw());
    assert_eq!(process_stat.ppid, std::process::id() as i32);
    assert_eq!(cwd(process.pid), sandbox.path(""), "the workdir changed");
    assert_eq!(
        umask(process.pid),
        umask(std::process::id() as i32),
        "the umask changed"
    );
    stop(process.pid, &pidfile);
    let exit = process.wait();
    assert!(exit.status.success(), "{exit:?}");
}

#[test]
fn enable_false_stays_in_the_foreground_with_a_pidfile() {
    assert_stays_in_foreground(&[], &[]);
}

#[test]
fn daemonic_foreground_env_overrides_enable() {
    assert_stays_in_foreground(&["-d"], &[("DAEMONIC_FOREGROUND", "1")]);
}

#[test]
fn enable_true_detaches() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let mut command = sandbox.command("fixture-flag");
    command.arg("-d").env("APP_PIDFILE", &pidfile);
    let launch = Running::spawn(command).wait();
    let pid = daemon_pid(&launch, &pidfile);
    assert_ne!(pid, launch.pid);
    assert_ne!(stat(pid).session, getsid(None).unwrap().as_raw());
    assert_eq!(umask(pid), 0o077);
    stop(pid, &pidfile);
}

#[test]
fn under_systemd_notify_it_does_not_fork_and_notifies() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("server.pid");
    let socket_path = sandbox.path("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    let mut command = sandbox.command("tokio_server");
    command
        .env("NOTIFY_SOCKET", &socket_path)
        .env("APP_PIDFILE", &pidfile)
        .env("APP_LOG", sandbox.path("server.log"));
    let server = Running::spawn(command);

    let messages = notifications_until_ready(&socket);
    let addr = messages[0]
        .strip_prefix("STATUS=addr: ")
        .and_then(|rest| rest.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("notifications {messages:?}"));
    assert_eq!(messages.len(), 2, "notifications {messages:?}");
    assert_eq!(
        pid_in(&pidfile),
        server.pid,
        "the process forked under systemd"
    );
    assert_eq!(stat(server.pid).ppid, std::process::id() as i32);

    let mut greeting = String::new();
    TcpStream::connect(addr)
        .unwrap()
        .read_to_string(&mut greeting)
        .unwrap();
    assert_eq!(greeting, format!("hello from pid {}\n", server.pid));
    stop(server.pid, &pidfile);
    let exit = server.wait();
    assert!(exit.status.success(), "{exit:?}");
    // Not redirected: the server's own println reaches systemd's journal.
    assert_eq!(exit.stdout, format!("addr: {addr}\n"));
}

/// Receives notifications on `socket` until `READY=1`.
fn notifications_until_ready(socket: &UnixDatagram) -> Vec<String> {
    socket.set_read_timeout(Some(EXIT)).unwrap();
    let mut messages = Vec::new();
    while !messages.iter().any(|m| m == "READY=1\n") {
        let mut buf = [0u8; 512];
        let len = socket
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no READY=1 before the timeout ({e}), got {messages:?}"));
        messages.push(String::from_utf8_lossy(&buf[..len]).into_owned());
    }
    messages
}

/// Starts `command` (a `fixture-builder`, with no pidfile) under a systemd
/// listening on `socket`, checks that it notifies from the very process
/// spawned, with `root` as its root, then stops it and returns its stdout.
fn assert_notifies_systemd(
    sandbox: &Sandbox,
    socket: &UnixDatagram,
    command: Command,
    root: &Path,
) -> String {
    let service = Running::spawn(command);
    assert_eq!(notifications_until_ready(socket), ["READY=1\n"]);
    assert_eq!(stat(service.pid).ppid, std::process::id() as i32);
    let pid = service.pid;
    assert_eq!(fs::read_link(format!("/proc/{pid}/root")).unwrap(), root);
    support::stop_without_pidfile(service.pid);
    let exit = service.wait();
    assert!(exit.status.success(), "{exit:?}");
    assert!(sandbox.wait_all_gone(EXIT));
    exit.stdout
}

#[test]
fn an_abstract_notify_socket_is_reached() {
    let sandbox = Sandbox::new();
    let name = format!("daemonic-test-{}", sandbox.path("").display());
    let address = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let socket = UnixDatagram::bind_addr(&address).unwrap();
    let mut command = sandbox.command("fixture-builder");
    command
        .env("NOTIFY_SOCKET", format!("@{name}"))
        .env("APP_SHOW_CHILD_ENV", "1");
    let stdout = assert_notifies_systemd(&sandbox, &socket, command, Path::new("/"));
    // The socket was this process's: a program it starts must not see it.
    assert_eq!(stdout, "child sees NOTIFY_SOCKET=unset\n");
}

#[test]
fn ready_reaches_systemd_from_inside_a_chroot() {
    if !support::is_root("ready_reaches_systemd_from_inside_a_chroot") {
        return;
    }
    let sandbox = Sandbox::new();
    let jail = sandbox.path("jail");
    fs::create_dir(&jail).unwrap();
    let socket_path = sandbox.path("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    let mut command = sandbox.command("fixture-builder");
    command
        .env("NOTIFY_SOCKET", &socket_path)
        .env("APP_CHROOT", &jail);
    assert_notifies_systemd(&sandbox, &socket, command, &jail);
}

#[test]
fn an_empty_notify_socket_counts_as_unset() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let launch = sandbox.launch(
        "fixture-builder",
        &[
            ("NOTIFY_SOCKET", OsStr::new("")),
            ("APP_PIDFILE", os(&pidfile)),
        ],
    );
    let pid = daemon_pid(&launch, &pidfile);
    assert_ne!(pid, launch.pid, "it stayed in the foreground");
    stop(pid, &pidfile);
}

#[test]
fn a_notify_socket_that_cannot_be_reached_fails_cleanly() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let socket_path = sandbox.path("nobody-listens.sock");
    let mut command = sandbox.command("fixture-builder");
    command
        .env("NOTIFY_SOCKET", &socket_path)
        .env("APP_PIDFILE", &pidfile);
    let launch = Running::spawn(command).wait();
    let line = format!(
        "NOTIFY_SOCKET {}: No such file or directory",
        socket_path.display()
    );
    assert_failed_cleanly(&sandbox, &launch, &line, &pidfile);
}

#[test]
fn a_zero_or_negative_ready_timeout_at_run_time_fails_before_forking() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let launch = launch_notify(&sandbox, &pidfile, "hang", Some("-1"));
    let line = "ready_timeout -1: not a number of seconds above zero";
    assert_failed_cleanly(&sandbox, &launch, line, &pidfile);

    let launch = launch_notify(&sandbox, &pidfile, "hang", Some("0"));
    let line = "ready_timeout 0: not a number of seconds above zero";
    assert_failed_cleanly(&sandbox, &launch, line, &pidfile);
}

#[test]
fn the_clap_example_detaches_with_its_daemon_flag_only() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("clap.pid");
    let mut command = sandbox.command("clap_flag");
    command.args(["--daemon", "--pidfile"]).arg(&pidfile);
    let launch = Running::spawn(command).wait();
    let pid = daemon_pid(&launch, &pidfile);
    assert_ne!(pid, launch.pid);
    assert_ne!(stat(pid).session, getsid(None).unwrap().as_raw());
    // ready() came after SIGTERM was blocked, so it is safe to send now.
    support::stop_now(pid, &pidfile);

    let mut command = sandbox.command("clap_flag");
    command.arg("--pidfile").arg(&pidfile);
    let foreground = Running::spawn(command);
    assert_eq!(support::wait_for_pidfile(&pidfile), foreground.pid);
    assert_eq!(stat(foreground.pid).session, getsid(None).unwrap().as_raw());
    support::wait_for_sigwait(foreground.pid);
    kill(Pid::from_raw(foreground.pid), Signal::SIGTERM).unwrap();
    let exit = foreground.wait();
    assert!(exit.status.success(), "{exit:?}");
    assert!(!pidfile.exists(), "the foreground run left its pidfile");
}

#[test]
fn a_ready_timeout_too_long_for_the_clock_is_no_timeout() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    // 1e19 seconds is a Duration, but past the end of the clock.
    let launch = launch_notify(&sandbox, &pidfile, "ready-after:10", Some("1e19"));
    let pid = daemon_pid(&launch, &pidfile);
    stop(pid, &pidfile);
}

#[test]
fn an_exit_before_ready_is_reported_even_with_sigchld_ignored() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let mut command = sandbox.command("fixture-notify");
    command
        .env("APP_PIDFILE", &pidfile)
        .env("APP_BEHAVIOUR", "exit:3");
    // SAFETY: signal is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            // Inherited as it is: the kernel would reap children by itself.
            libc::signal(libc::SIGCHLD, libc::SIG_IGN);
            Ok(())
        });
    }
    let launch = Running::spawn(command).wait();
    let line = "the daemon exited with status 3 before it was ready";
    assert_failed_cleanly(&sandbox, &launch, line, &pidfile);
}

#[test]
fn a_program_name_the_kernel_cuts_mid_character_still_detaches() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    // 20 bytes of UTF-8: /proc/<pid>/status shows the first 15, half a letter.
    let binary = sandbox.copy_binary("fixture-notify", "приложение");
    let mut command = sandbox.command_for(binary);
    command
        .env("APP_PIDFILE", &pidfile)
        .env("APP_BEHAVIOUR", "ready-after:0");
    let launch = Running::spawn(command).wait();
    let pid = daemon_pid(&launch, &pidfile);
    stop(pid, &pidfile);
}

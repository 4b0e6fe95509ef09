//! Sockets that outlive a process: the zero-downtime upgrade of
//! `examples/upgrade.rs` under a client's load, its failures, and systemd's
//! socket activation, all observed from outside.
// Linux only: these tests read /proc/<pid> to see the daemon from outside.
#![cfg(target_os = "linux")]

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::{
    alive, ask, daemon_pid, has_socket_activator, pid_in, wait_for_line, wait_until, Running,
    Sandbox, EXIT,
};

/// The example copied into the sandbox as `app`, the path upgrades start.
struct App {
    path: PathBuf,
    pidfile: PathBuf,
    log: PathBuf,
}

fn app(sandbox: &Sandbox) -> App {
    let path = sandbox.copy_binary("upgrade", "app");
    App {
        path,
        pidfile: sandbox.path("app.pid"),
        log: sandbox.path("app.log"),
    }
}

impl App {
    fn command(&self, sandbox: &Sandbox, ready_timeout: &str) -> std::process::Command {
        let mut command = sandbox.command_for(&self.path);
        command
            .env("APP_PIDFILE", &self.pidfile)
            .env("APP_LOG", &self.log)
            .env("APP_READY_TIMEOUT", ready_timeout);
        command
    }

    /// Starts it detached; its pid and address.
    fn start(&self, sandbox: &Sandbox, ready_timeout: &str) -> (i32, String) {
        let launch = Running::spawn(self.command(sandbox, ready_timeout)).wait();
        let pid = daemon_pid(&launch, &self.pidfile);
        let addr = support::addr_of(&launch);
        (pid, addr)
    }

    /// Puts `script` at the binary's path, by a rename, as an install does.
    fn replace_with(&self, sandbox: &Sandbox, script: &str) {
        let new = sandbox.path("app.new");
        fs::write(&new, script).unwrap();
        fs::set_permissions(&new, fs::Permissions::from_mode(0o755)).unwrap();
        fs::rename(&new, &self.path).unwrap();
    }

    /// v2: the same build, told its version, at the binary's path.
    fn install_v2(&self, sandbox: &Sandbox) {
        let real = sandbox.path("app-v2");
        fs::copy(&self.path, &real).unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o755)).unwrap();
        let script = format!("#!/bin/sh\nAPP_VERSION=2 exec {} \"$@\"\n", real.display());
        self.replace_with(sandbox, &script);
    }
}

#[test]
fn an_upgrade_under_load_refuses_no_connection_and_hands_the_pidfile_over() {
    let sandbox = Sandbox::new();
    let app = app(&sandbox);
    let (old, addr) = app.start(&sandbox, "30");
    let mut answers = Vec::new();
    let mut failures = Vec::new();
    let started = Instant::now();
    for i in 0..2000 {
        if i == 1000 {
            app.install_v2(&sandbox);
            kill(Pid::from_raw(old), Signal::SIGUSR2).unwrap();
        }
        match ask(&addr) {
            Ok(answer) if !answer.is_empty() => answers.push(answer),
            Ok(_) => failures.push(format!("{i}: no answer")),
            Err(e) => failures.push(format!("{i}: {e}")),
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    let elapsed = started.elapsed();
    assert_eq!(failures, Vec::<String>::new(), "over {elapsed:?}");
    assert_eq!(answers.len(), 2000);
    assert!(answers[0].starts_with("v1 "), "{}", answers[0]);
    let new = pid_in(&app.pidfile);
    assert_ne!(new, old);
    assert_eq!(answers[1999], format!("v2 pid {new}"));
    assert!(wait_until(EXIT, || !alive(old)), "the old process stayed");
    assert!(alive(new));
    // From outside: the new process holds the pidfile and, at fd 3, the
    // socket handed to it; the pipe to the old one is closed since ready.
    let open = support::daemon_fds(new);
    assert!(
        open.values().any(|target| target == &app.pidfile),
        "{open:?}"
    );
    assert!(
        open[&3].to_string_lossy().starts_with("socket:"),
        "{open:?}"
    );
    // A second start finds the new pid running: LSB's success, and
    // nothing started.
    let second = Running::spawn(app.command(&sandbox, "30")).wait();
    assert_eq!(second.status.code(), Some(0), "{second:?}");
    assert_eq!(second.stdout, format!("already running (pid {new})\n"));
    assert_eq!(second.stderr, "");
    // After kill -9 of the new one, the next start takes the pidfile over.
    kill(Pid::from_raw(new), Signal::SIGKILL).unwrap();
    assert!(wait_until(EXIT, || !alive(new)));
    let (next, _) = app.start(&sandbox, "30");
    assert!(alive(next) && next != new);
}

/// Deploys that switch a symlink (`current` -> `release-2`) upgrade to what
/// the link names at the upgrade, as the path was typed: the start's
/// `execve` path (`AT_EXECFN`), not `/proc/self/exe`, which names the old
/// release the link pointed at when the daemon started.
#[test]
fn an_upgrade_through_a_switched_symlink_starts_the_release_it_names_now() {
    let sandbox = Sandbox::new();
    let release_1 = app(&sandbox);
    let current = sandbox.path("current");
    std::os::unix::fs::symlink(&release_1.path, &current).unwrap();
    let deployed = App {
        path: current.clone(),
        pidfile: release_1.pidfile.clone(),
        log: release_1.log.clone(),
    };
    let (old, addr) = deployed.start(&sandbox, "30");
    assert!(ask(&addr).unwrap().starts_with("v1 "));
    // Release 2 at a path of its own; the link switched by a rename.
    let release_2 = sandbox.path("release-2");
    let written = sandbox.path("release-2.new");
    let script = format!(
        "#!/bin/sh\nAPP_VERSION=2 exec {} \"$@\"\n",
        release_1.path.display()
    );
    fs::write(&written, script).unwrap();
    fs::set_permissions(&written, fs::Permissions::from_mode(0o755)).unwrap();
    fs::rename(&written, &release_2).unwrap();
    let link = sandbox.path("current.new");
    std::os::unix::fs::symlink(&release_2, &link).unwrap();
    fs::rename(&link, &current).unwrap();
    kill(Pid::from_raw(old), Signal::SIGUSR2).unwrap();
    assert!(
        wait_until(EXIT, || !alive(old)),
        "the old process stayed: {}",
        fs::read_to_string(&deployed.log).unwrap_or_default()
    );
    let new = pid_in(&deployed.pidfile);
    assert_ne!(new, old);
    assert_eq!(ask(&addr).unwrap(), format!("v2 pid {new}"));
}

#[test]
fn a_new_build_that_exits_before_ready_leaves_the_old_one_serving() {
    let sandbox = Sandbox::new();
    let app = app(&sandbox);
    let (old, addr) = app.start(&sandbox, "30");
    app.replace_with(&sandbox, "#!/bin/sh\nexit 3\n");
    kill(Pid::from_raw(old), Signal::SIGUSR2).unwrap();
    let line = wait_for_line(&app.log, "upgrade failed: ");
    assert_eq!(
        line,
        "upgrade failed: the daemon exited with status 3 before it was ready; serving on"
    );
    assert_eq!(ask(&addr).unwrap(), format!("v1 pid {old}"));
    assert_eq!(pid_in(&app.pidfile), old, "the pidfile changed");
    assert!(
        wait_until(EXIT, || sandbox.processes() == [old]),
        "left behind: {:?}",
        sandbox.processes()
    );
}

#[test]
fn a_new_build_that_is_never_ready_is_stopped_at_the_timeout() {
    let sandbox = Sandbox::new();
    let app = app(&sandbox);
    let (old, addr) = app.start(&sandbox, "1");
    app.replace_with(&sandbox, "#!/bin/sh\nexec sleep 1000\n");
    kill(Pid::from_raw(old), Signal::SIGUSR2).unwrap();
    let line = wait_for_line(&app.log, "upgrade failed: ");
    assert_eq!(
        line,
        "upgrade failed: the daemon was not ready after 1s, so it was stopped; serving on"
    );
    assert_eq!(ask(&addr).unwrap(), format!("v1 pid {old}"));
    assert_eq!(pid_in(&app.pidfile), old);
    assert!(
        wait_until(EXIT, || sandbox.processes() == [old]),
        "left behind: {:?}",
        sandbox.processes()
    );
}

/// systemd (`Type=notify`): the old process sends `MAINPID=` with the new
/// pid, and the new one `READY=1`, on the test's own notify socket.
#[test]
fn under_systemd_the_upgrade_sends_mainpid_and_the_new_process_ready() {
    let sandbox = Sandbox::new();
    let app = app(&sandbox);
    let socket_path = sandbox.path("notify.sock");
    let systemd = UnixDatagram::bind(&socket_path).unwrap();
    systemd.set_read_timeout(Some(EXIT)).unwrap();
    let mut command = app.command(&sandbox, "30");
    command.env("NOTIFY_SOCKET", &socket_path);
    let service = Running::spawn(command);
    let received = |systemd: &UnixDatagram| {
        let mut buf = [0u8; 4096];
        let len = systemd.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..len]).into_owned()
    };
    while received(&systemd) != "READY=1\n" {}
    app.install_v2(&sandbox);
    kill(Pid::from_raw(service.pid), Signal::SIGUSR2).unwrap();
    let mut seen = Vec::new();
    while !seen.iter().any(|m: &String| m.starts_with("MAINPID=")) {
        seen.push(received(&systemd));
    }
    let new = pid_in(&app.pidfile);
    assert!(seen.contains(&"READY=1\n".to_owned()), "{seen:?}");
    assert_eq!(seen.last().unwrap(), &format!("MAINPID={new}\n"));
    // The old process exits; the new one holds its stdio until stopped.
    assert!(wait_until(EXIT, || !alive(service.pid)));
    kill(Pid::from_raw(new), Signal::SIGTERM).unwrap();
    assert!(service.wait().status.success());
}

/// `systemd-socket-activate` hands the example its listening socket, in the
/// foreground and with the double fork; it serves on it, binding none.
#[test]
fn a_real_socket_activator_hands_its_socket_over() {
    if !has_socket_activator("a_real_socket_activator_hands_its_socket_over") {
        return;
    }
    for foreground in [true, false] {
        let sandbox = Sandbox::new();
        let app = app(&sandbox);
        let (mut activator, addr) = support::socket_activator(&sandbox, &app.pidfile, &app.log);
        // Told to bind elsewhere: it must not.
        activator.args(["-E", "APP_ADDR=127.0.0.1:1"]);
        if foreground {
            activator.args(["-E", "DAEMONIC_FOREGROUND=1"]);
        }
        activator.arg(&app.path);
        let _activator = Running::spawn(activator);
        // The activator listens now; the first connection starts the program.
        let answer = (|| {
            let deadline = Instant::now() + EXIT;
            loop {
                match ask(&addr) {
                    Ok(answer) => return answer,
                    Err(_) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        })();
        let pid = pid_in(&app.pidfile);
        assert_eq!(answer, format!("v1 pid {pid}"), "foreground: {foreground}");
        let log = fs::read_to_string(&app.log).unwrap_or_default();
        let serving = format!("serving {addr}");
        assert!(
            foreground || log.contains(&serving),
            "the daemon did not serve the handed socket: {log:?}"
        );
        kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
        assert!(wait_until(EXIT, || !alive(pid)));
    }
}

/// `app upgrade`: the signal, then a wait until a new pid holds the pidfile.
#[test]
fn the_upgrade_command_waits_for_the_new_process_to_hold_the_pidfile() {
    let sandbox = Sandbox::new();
    let app = app(&sandbox);
    let (old, addr) = app.start(&sandbox, "30");
    app.install_v2(&sandbox);
    let mut upgrade = app.command(&sandbox, "30");
    upgrade.arg("upgrade");
    let answer = Running::spawn(upgrade).wait();
    let new = pid_in(&app.pidfile);
    assert_eq!(
        answer.stdout,
        format!("upgraded (pid {old} to {new})\n"),
        "{answer:?}"
    );
    assert_eq!(answer.status.code(), Some(0));
    assert_eq!(ask(&addr).unwrap(), format!("v2 pid {new}"));
    kill(Pid::from_raw(new), Signal::SIGTERM).unwrap();
    assert!(wait_until(EXIT, || !alive(new)));
    let mut upgrade = app.command(&sandbox, "30");
    upgrade.arg("upgrade");
    let answer = Running::spawn(upgrade).wait();
    assert_eq!(
        (answer.status.code(), answer.stdout.as_str()),
        (Some(7), "not running\n")
    );
}

/// A daemon started by `restart` upgrades like any other: the new process,
/// started with the same arguments, takes over instead of restarting.
#[test]
fn a_daemon_started_by_restart_upgrades_too() {
    let sandbox = Sandbox::new();
    let app = app(&sandbox);
    let mut restart = app.command(&sandbox, "30");
    restart.arg("restart");
    let launch = Running::spawn(restart).wait();
    let old = daemon_pid(&launch, &app.pidfile);
    let addr = launch
        .stdout
        .trim()
        .strip_prefix("addr: ")
        .unwrap()
        .to_owned();
    app.install_v2(&sandbox);
    kill(Pid::from_raw(old), Signal::SIGUSR2).unwrap();
    assert!(wait_until(EXIT, || !alive(old)), "the old process stayed");
    let new = pid_in(&app.pidfile);
    assert_eq!(ask(&addr).unwrap(), format!("v2 pid {new}"));
}

/// The old process dies while the new one is not ready yet: the new one
/// goes with it, rather than hold the lock and the socket for nobody.
#[test]
fn if_the_old_process_dies_mid_upgrade_the_new_one_does_not_linger() {
    let sandbox = Sandbox::new();
    let app = app(&sandbox);
    let (old, _) = app.start(&sandbox, "30");
    app.replace_with(&sandbox, "#!/bin/sh\nexec sleep 1000\n");
    kill(Pid::from_raw(old), Signal::SIGUSR2).unwrap();
    assert!(
        wait_until(EXIT, || sandbox.processes().len() == 2),
        "no new process: {:?}",
        sandbox.processes()
    );
    kill(Pid::from_raw(old), Signal::SIGKILL).unwrap();
    assert!(
        sandbox.wait_all_gone(EXIT),
        "left behind: {:?}",
        sandbox.processes()
    );
}

/// A set-id daemon's caller chose the path it was started by: through a
/// symlink of the caller's, switched before an upgrade, that path would
/// start the caller's program with the daemon's privileges. So a set-id
/// daemon upgrades to its own binary (`/proc/self/exe`), never to the path
/// it was started by; a planted program never runs.
#[test]
fn a_set_id_daemon_starts_its_own_binary_not_a_program_behind_a_switched_symlink() {
    let test = "a_set_id_daemon_starts_its_own_binary_not_a_program_behind_a_switched_symlink";
    if !support::is_root(test) {
        return;
    }
    let sandbox = Sandbox::new();
    let nosuid = nix::sys::statvfs::statvfs(&sandbox.path(""))
        .unwrap()
        .flags()
        .contains(nix::sys::statvfs::FsFlags::ST_NOSUID);
    if nosuid {
        support::skipped(test, "the temp dir is on a nosuid mount");
        return;
    }
    // Set-gid to nogroup: run by root, its effective gid differs from its
    // real one, and the kernel marks it AT_SECURE, as for any set-id start.
    let binary = sandbox.copy_binary("upgrade", "app-setgid");
    let nogroup = support::nobody().gid.as_raw();
    std::os::unix::fs::chown(&binary, None, Some(nogroup)).unwrap();
    fs::set_permissions(&binary, fs::Permissions::from_mode(0o2755)).unwrap();
    let link = sandbox.path("current");
    std::os::unix::fs::symlink(&binary, &link).unwrap();
    let deployed = App {
        path: link.clone(),
        pidfile: sandbox.path("app.pid"),
        log: sandbox.path("app.log"),
    };
    let (old, addr) = deployed.start(&sandbox, "30");
    assert!(ask(&addr).unwrap().starts_with("v1 "));
    // The caller's program, planted behind the link it started the daemon by.
    let marker = sandbox.path("planted-ran");
    let planted = sandbox.path("planted");
    let written = sandbox.path("planted.new");
    fs::write(
        &written,
        format!("#!/bin/sh\nid > {}\nexit 3\n", marker.display()),
    )
    .unwrap();
    fs::set_permissions(&written, fs::Permissions::from_mode(0o755)).unwrap();
    fs::rename(&written, &planted).unwrap();
    let switched = sandbox.path("current.new");
    std::os::unix::fs::symlink(&planted, &switched).unwrap();
    fs::rename(&switched, &link).unwrap();
    kill(Pid::from_raw(old), Signal::SIGUSR2).unwrap();
    // The new process, its own binary, ignores the hand-over as set-id
    // binaries do, and finds the daemon running: the old one serves on.
    let line = wait_for_line(&deployed.log, "upgrade failed: ");
    assert!(
        !marker.exists(),
        "the planted program ran: {}",
        fs::read_to_string(&marker).unwrap_or_default()
    );
    // Its own binary ran: a start that found it running, LSB's exit 0
    // ("already running"), where the planted program exits 3.
    assert_eq!(
        line,
        "upgrade failed: the daemon exited with status 0 before it was ready; serving on"
    );
    assert!(alive(old), "{line}");
    assert_eq!(pid_in(&deployed.pidfile), old);
    assert!(ask(&addr).unwrap().starts_with(&format!("v1 pid {old}")));
}

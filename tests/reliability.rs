//! The reliability suite: terminal hangup, racing starts, faults, hostile
//! input, privileges and inherited sockets, each observed from outside.
// Linux only: these tests read /proc/<pid> to see the daemon from outside.
// On FreeBSD and macOS the crate is compile-checked, not run-tested.
#![cfg(target_os = "linux")]

mod support;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use nix::libc;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::{
    alive, assert_failed_cleanly, cwd, daemon_fds, daemon_pid, fds, is_root, nobody, on_terminal,
    os, pid_in, read_terminal_until, stat, stop, wait_for_pidfile, wait_until, Running, Sandbox,
    EXIT,
};

/// The property the whole technique exists for: closing the terminal kills
/// the jobs of its session, and not the daemon started from it.
#[test]
fn terminal_hangup_kills_a_background_job_but_not_the_daemon() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let mut shell = sandbox.command_for("bash");
    shell
        .args(["--norc", "--noprofile", "-i"])
        .env("PS1", "$ ")
        .env("APP_PIDFILE", &pidfile);
    let mut master = on_terminal(&mut shell);
    let shell = Running::spawn(shell);

    let fixture = support::example("fixture-quiet");
    let script = format!(
        "shopt -s huponexit; sleep 1000 & echo \"job=$!=\"; {} && echo launched=$?=\n",
        fixture.display()
    );
    master.write_all(script.as_bytes()).unwrap();
    let screen = read_terminal_until(&mut master, |screen| screen.contains("launched=0="));
    let job: i32 = screen
        .split("job=")
        .find_map(|rest| rest.split('=').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no job pid on the terminal: {screen:?}"));
    let daemon = pid_in(&pidfile);
    assert!(alive(job) && alive(daemon));
    assert_ne!(stat(daemon).session, stat(job).session);

    drop(master); // the terminal closes: the kernel hangs up its session
    let exit = shell.wait();
    assert!(
        !exit.status.success(),
        "the shell survived its hangup: {exit:?}"
    );
    // The control: the background job of that shell died with it...
    assert!(
        wait_until(EXIT, || !alive(job)),
        "the background job survived the hangup"
    );
    // ...and the daemon did not.
    assert!(alive(daemon), "the daemon died with the terminal");
    stop(daemon, &pidfile);
}

#[test]
fn of_sixteen_racing_starts_exactly_one_runs_and_fifteen_name_it() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let launchers: Vec<Running> = (0..16)
        .map(|_| {
            let mut command = sandbox.command("fixture-quiet");
            command.env("APP_PIDFILE", &pidfile);
            Running::spawn(command)
        })
        .collect();
    let launches: Vec<_> = launchers.into_iter().map(Running::wait).collect();

    let (won, lost): (Vec<_>, Vec<_>) = launches.iter().partition(|l| l.status.success());
    assert_eq!(won.len(), 1, "{launches:#?}");
    let survivor = daemon_pid(won[0], &pidfile);
    let refusal = format!(
        "daemonic: pidfile {}: already running (pid {survivor})\n",
        pidfile.display()
    );
    for launch in &lost {
        assert_eq!(launch.status.code(), Some(1));
        assert_eq!(launch.stderr, refusal);
    }
    assert_eq!(sandbox.processes(), [survivor], "more than one daemon runs");
    assert_eq!(pid_in(&pidfile), survivor);
    stop(survivor, &pidfile);
}

#[test]
fn after_kill_9_the_next_start_takes_the_stale_pidfile_over() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let env = [("APP_PIDFILE", os(&pidfile))];
    let first = daemon_pid(&sandbox.launch("fixture-quiet", &env), &pidfile);
    kill(Pid::from_raw(first), Signal::SIGKILL).unwrap();
    assert!(wait_until(EXIT, || !alive(first)));
    assert_eq!(pid_in(&pidfile), first, "SIGKILL leaves the pidfile, stale");

    let second = daemon_pid(&sandbox.launch("fixture-quiet", &env), &pidfile);
    assert_ne!(second, first);
    assert_eq!(fs::read_to_string(&pidfile).unwrap(), format!("{second}\n"));
    stop(second, &pidfile);
}

#[test]
fn after_sigterm_main_returns_and_the_pidfile_is_removed() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let pid = daemon_pid(
        &sandbox.launch("fixture-quiet", &[("APP_PIDFILE", os(&pidfile))]),
        &pidfile,
    );
    stop(pid, &pidfile); // asserts that the process ended and the pidfile is gone
    assert!(sandbox.processes().is_empty());
}

#[test]
fn a_pidfile_that_is_a_symlink_is_refused() {
    let sandbox = Sandbox::new();
    let target = sandbox.path("elsewhere");
    fs::write(&target, "precious\n").unwrap();
    let pidfile = sandbox.path("app.pid");
    symlink(&target, &pidfile).unwrap();
    let launch = sandbox.launch("fixture-quiet", &[("APP_PIDFILE", os(&pidfile))]);
    assert_eq!(launch.status.code(), Some(1));
    assert_eq!(
        launch.stderr,
        format!(
            "daemonic: pidfile {}: refused, it is a symbolic link\n",
            pidfile.display()
        )
    );
    assert!(sandbox.wait_all_gone(EXIT));
    assert_eq!(fs::read_to_string(&target).unwrap(), "precious\n");
    assert!(fs::symlink_metadata(&pidfile)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn a_pidfile_in_a_directory_others_may_write_is_refused_unless_sticky() {
    let sandbox = Sandbox::new();
    let shared = sandbox.path("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
    let pidfile = shared.join("app.pid");
    let launch = sandbox.launch("fixture-quiet", &[("APP_PIDFILE", os(&pidfile))]);
    let line = format!(
        "pidfile {}: refused, its directory {} is writable by others and not sticky, so \
         anyone could replace it",
        pidfile.display(),
        shared.display()
    );
    assert_failed_cleanly(&sandbox, &launch, &line, &pidfile);

    // With the sticky bit, as /tmp has it, others cannot replace our file.
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
    let launch = sandbox.launch("fixture-quiet", &[("APP_PIDFILE", os(&pidfile))]);
    let pid = daemon_pid(&launch, &pidfile);
    stop(pid, &pidfile);
}

#[test]
fn a_pidfile_that_another_user_owns_is_refused() {
    if !is_root("a_pidfile_that_another_user_owns_is_refused") {
        return;
    }
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    fs::write(&pidfile, "1\n").unwrap();
    let nobody = nobody();
    std::os::unix::fs::chown(&pidfile, Some(nobody.uid.as_raw()), None).unwrap();
    let launch = sandbox.launch("fixture-quiet", &[("APP_PIDFILE", os(&pidfile))]);
    assert_eq!(launch.status.code(), Some(1));
    assert_eq!(
        launch.stderr,
        format!(
            "daemonic: pidfile {}: refused, it belongs to uid {}, not to uid 0 that runs this\n",
            pidfile.display(),
            nobody.uid
        )
    );
    assert!(sandbox.wait_all_gone(EXIT));
    assert_eq!(
        fs::read_to_string(&pidfile).unwrap(),
        "1\n",
        "the refused file was touched"
    );
}

#[test]
fn a_keep_fd_that_is_not_open_fails_in_the_launcher() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let launch = sandbox.launch(
        "fixture-builder",
        &[
            ("APP_PIDFILE", os(&pidfile)),
            ("APP_KEEP_FD", OsStr::new("900")),
        ],
    );
    assert_failed_cleanly(&sandbox, &launch, "keep_fds: fd 900 is not open", &pidfile);
}

#[test]
fn a_pidfile_directory_that_another_user_or_group_may_write_is_refused() {
    if !is_root("a_pidfile_directory_that_another_user_or_group_may_write_is_refused") {
        return;
    }
    let sandbox = Sandbox::new();
    let nobody = nobody();
    // Owned by another user, who could swap the file even with the sticky bit.
    let theirs = sandbox.path("theirs");
    fs::create_dir(&theirs).unwrap();
    fs::set_permissions(&theirs, fs::Permissions::from_mode(0o1755)).unwrap();
    std::os::unix::fs::chown(&theirs, Some(nobody.uid.as_raw()), None).unwrap();
    let pidfile = theirs.join("app.pid");
    let launch = sandbox.launch("fixture-quiet", &[("APP_PIDFILE", os(&pidfile))]);
    let line = format!(
        "pidfile {}: refused, its directory {} belongs to uid {}, who could replace it",
        pidfile.display(),
        theirs.display(),
        nobody.uid
    );
    assert_failed_cleanly(&sandbox, &launch, &line, &pidfile);

    // Writable by a group that is neither root's nor the daemon's.
    let shared = sandbox.path("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o775)).unwrap();
    std::os::unix::fs::chown(&shared, None, Some(nobody.gid.as_raw())).unwrap();
    let pidfile = shared.join("app.pid");
    let launch = sandbox.launch("fixture-quiet", &[("APP_PIDFILE", os(&pidfile))]);
    let line = format!(
        "pidfile {}: refused, its directory {} is writable by group {} and not sticky, so its \
         members could replace it",
        pidfile.display(),
        shared.display(),
        nobody.gid
    );
    assert_failed_cleanly(&sandbox, &launch, &line, &pidfile);

    // The daemon's own user and group may own it: systemd's RuntimeDirectory=.
    std::os::unix::fs::chown(&shared, Some(nobody.uid.as_raw()), None).unwrap();
    let launch = sandbox.launch(
        "fixture-builder",
        &[
            ("APP_PIDFILE", os(&pidfile)),
            ("APP_USER", OsStr::new("nobody")),
        ],
    );
    let pid = daemon_pid(&launch, &pidfile);
    kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    assert!(wait_until(EXIT, || !alive(pid)));
    assert!(
        !pidfile.exists(),
        "the daemon's own directory: it removes its pidfile"
    );
}

#[test]
fn a_negative_keep_fd_and_a_nul_byte_in_a_path_are_named() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let launch = sandbox.launch(
        "fixture-builder",
        &[
            ("APP_PIDFILE", os(&pidfile)),
            ("APP_KEEP_FD", OsStr::new("-1")),
        ],
    );
    let line = "keep_fds: fd -1 is not a file descriptor";
    assert_failed_cleanly(&sandbox, &launch, line, &pidfile);
    let launch = sandbox.launch(
        "fixture-builder",
        &[("APP_PIDFILE_WITH_NUL", os(&sandbox.path("app")))],
    );
    let line = format!(
        "pidfile \"{}\\0.pid\": contains a NUL byte",
        sandbox.path("app").display()
    );
    assert_failed_cleanly(&sandbox, &launch, &line, &pidfile);
}

#[test]
fn a_pidfile_directory_that_is_not_writable_fails_cleanly() {
    if !is_root("a_pidfile_directory_that_is_not_writable_fails_cleanly") {
        return;
    }
    // Root writes anywhere: run the launcher as nobody, against root's directory.
    let sandbox = Sandbox::new();
    let locked = sandbox.path("locked");
    fs::create_dir(&locked).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
    let pidfile = locked.join("app.pid");
    let mut command = sandbox.command_as("fixture-quiet", &nobody());
    command.env("APP_PIDFILE", &pidfile);
    let launch = Running::spawn(command).wait();
    let line = format!("pidfile {}: Permission denied", pidfile.display());
    assert_failed_cleanly(&sandbox, &launch, &line, &pidfile);
}

#[test]
fn an_unknown_user_fails_in_the_launcher() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let launch = sandbox.launch(
        "fixture-builder",
        &[
            ("APP_PIDFILE", os(&pidfile)),
            ("APP_USER", OsStr::new("no-such-user-daemonic")),
        ],
    );
    let line = "user no-such-user-daemonic: no such user";
    assert_failed_cleanly(&sandbox, &launch, line, &pidfile);
}

#[test]
fn a_user_change_without_root_is_refused_before_forking() {
    if !is_root("a_user_change_without_root_is_refused_before_forking") {
        return;
    }
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let nobody = nobody();
    for (option, account) in [("APP_USER", "user"), ("APP_GROUP", "group")] {
        let mut command = sandbox.command_as("fixture-builder", &nobody);
        command.env("APP_PIDFILE", &pidfile).env(option, "root");
        let launch = Running::spawn(command).wait();
        let line = format!(
            "{account} root: changing user or group needs root, and this runs as uid {}",
            nobody.uid
        );
        assert_failed_cleanly(&sandbox, &launch, &line, &pidfile);
    }
}

/// Starts `fixture-builder` from a launcher that has supplementary groups of
/// its own, which the switch must not let through.
fn launch_with_groups(sandbox: &Sandbox, env: &[(&str, &OsStr)]) -> support::Launch {
    let mut command = sandbox.command("fixture-builder");
    command.envs(env.iter().copied());
    // SAFETY: setgroups is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            let groups: [libc::gid_t; 2] = [4, 20];
            if libc::setgroups(groups.len(), groups.as_ptr()) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Running::spawn(command).wait()
}

/// The `Uid:`, `Gid:` and `Groups:` lines of `/proc/<pid>/status`.
fn credentials(pid: i32) -> (String, String, String) {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    (line("Uid:"), line("Gid:"), line("Groups:"))
}

#[test]
fn a_user_by_name_gets_its_groups_and_cannot_regain_root() {
    if !is_root("a_user_by_name_gets_its_groups_and_cannot_regain_root") {
        return;
    }
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let nobody = nobody();
    let out = support::directory_of(&sandbox, "logs", &nobody).join("out.log");
    let launch = launch_with_groups(
        &sandbox,
        &[
            ("APP_PIDFILE", os(&pidfile)),
            ("APP_USER", OsStr::new("nobody")),
            ("APP_STDOUT", os(&out)),
            ("APP_TRY_ROOT", OsStr::new("1")),
        ],
    );
    let pid = daemon_pid(&launch, &pidfile);
    // From inside: the daemon's own setuid(0) fails.
    let said = support::wait_for_line(&out, "setuid(0): ");
    assert_eq!(said, "setuid(0): Err(EPERM)");
    // No capability left, permitted or effective.
    assert_eq!(support::status_line(pid, "CapPrm"), "0000000000000000");
    assert_eq!(support::status_line(pid, "CapEff"), "0000000000000000");
    let (uid, gid, groups) = credentials(pid);
    // Real, effective, saved and filesystem ids: no saved root to go back to.
    assert_eq!(uid, vec![nobody.uid.to_string(); 4].join(" "));
    assert_eq!(gid, vec![nobody.gid.to_string(); 4].join(" "));
    let expected: Vec<String> = nix::unistd::getgrouplist(c"nobody", nobody.gid)
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        groups,
        expected.join(" "),
        "initgroups' supplementary groups"
    );
    // The pidfile was created and locked by root before the drop, and stays
    // root's; the daemon, as nobody, cannot unlink it from root's directory.
    assert_eq!(pid_in(&pidfile), pid);
    kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    assert!(wait_until(EXIT, || !alive(pid)));
}

#[test]
fn a_bare_uid_clears_the_supplementary_groups() {
    if !is_root("a_bare_uid_clears_the_supplementary_groups") {
        return;
    }
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let nobody = nobody();
    let uid = nobody.uid.to_string();
    let launch = launch_with_groups(
        &sandbox,
        &[("APP_PIDFILE", os(&pidfile)), ("APP_UID", OsStr::new(&uid))],
    );
    let pid = daemon_pid(&launch, &pidfile);
    let (uids, gids, groups) = credentials(pid);
    assert_eq!(uids, [uid.as_str(); 4].join(" "));
    assert_eq!(gids, vec![nobody.gid.to_string(); 4].join(" "));
    assert_eq!(groups, "", "supplementary groups were kept");
}

#[test]
fn in_the_foreground_under_systemd_the_user_still_changes() {
    if !is_root("in_the_foreground_under_systemd_the_user_still_changes") {
        return;
    }
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let socket_path = sandbox.path("notify.sock");
    let _systemd = UnixDatagram::bind(&socket_path).unwrap();
    let mut command = sandbox.command("fixture-builder");
    command
        .env("APP_PIDFILE", &pidfile)
        .env("APP_USER", "nobody")
        .env("NOTIFY_SOCKET", &socket_path);
    let process = Running::spawn(command);
    assert_eq!(
        wait_for_pidfile(&pidfile),
        process.pid,
        "it forked under systemd"
    );
    let nobody = nobody();
    let expected = vec![nobody.uid.to_string(); 4].join(" ");
    assert!(
        wait_until(EXIT, || credentials(process.pid).0 == expected),
        "still {:?}",
        credentials(process.pid)
    );
    kill(Pid::from_raw(process.pid), Signal::SIGKILL).unwrap();
    let _ = process.wait();
}

#[test]
fn chroot_comes_before_the_workdir_which_is_inside_it() {
    if !is_root("chroot_comes_before_the_workdir_which_is_inside_it") {
        return;
    }
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let root = sandbox.path("jail");
    fs::create_dir_all(root.join("work")).unwrap();
    let launch = sandbox.launch(
        "fixture-builder",
        &[
            ("APP_PIDFILE", os(&pidfile)),
            ("APP_CHROOT", os(&root)),
            ("APP_WORKDIR", OsStr::new("/work")),
        ],
    );
    let pid = daemon_pid(&launch, &pidfile);
    assert_eq!(fs::read_link(format!("/proc/{pid}/root")).unwrap(), root);
    assert_eq!(cwd(pid), root.join("work"));
    // Opened before the chroot, from the host's tree.
    assert_eq!(fds(pid)[&0], PathBuf::from("/dev/null"));
    kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    assert!(wait_until(EXIT, || !alive(pid)));
}

#[test]
fn a_workdir_missing_inside_the_chroot_in_the_foreground_fails_cleanly() {
    if !is_root("a_workdir_missing_inside_the_chroot_in_the_foreground_fails_cleanly") {
        return;
    }
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let root = sandbox.path("jail");
    fs::create_dir(&root).unwrap();
    // In the foreground the process itself enters the chroot, so after the
    // failure the pidfile's path names nothing for it.
    let launch = sandbox.launch(
        "fixture-builder",
        &[
            ("APP_PIDFILE", os(&pidfile)),
            ("APP_CHROOT", os(&root)),
            ("APP_WORKDIR", OsStr::new("/missing")),
            ("DAEMONIC_FOREGROUND", OsStr::new("1")),
        ],
    );
    let line = "workdir /missing: No such file or directory";
    assert_failed_cleanly(&sandbox, &launch, line, &pidfile);
}

#[test]
fn a_chroot_that_is_missing_fails_cleanly() {
    if !is_root("a_chroot_that_is_missing_fails_cleanly") {
        return;
    }
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let root = sandbox.path("no-jail");
    let launch = sandbox.launch(
        "fixture-builder",
        &[("APP_PIDFILE", os(&pidfile)), ("APP_CHROOT", os(&root))],
    );
    let line = format!("chroot {}: No such file or directory", root.display());
    assert_failed_cleanly(&sandbox, &launch, &line, &pidfile);
}

#[test]
fn keep_fds_keeps_a_socket_bound_before_the_detach() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let mut command = sandbox.command("fixture-keep-fd");
    command.env("APP_PIDFILE", &pidfile);
    // Started with more open than stdio, so that "only it" can fail.
    support::inherit_fds(&mut command, &[3, 4, 8, 20]);
    let launch = Running::spawn(command).wait();
    let pid = daemon_pid(&launch, &pidfile);
    let mut lines = launch.stdout.lines();
    let fd: i32 = lines
        .next()
        .and_then(|l| l.strip_prefix("fd: ")?.parse().ok())
        .unwrap_or_else(|| panic!("launcher stdout {:?}", launch.stdout));
    let addr = lines.next().and_then(|l| l.strip_prefix("addr: ")).unwrap();
    let open = daemon_fds(pid);
    assert!(
        open[&fd].to_string_lossy().starts_with("socket:"),
        "fd {fd} is not the socket: {open:?}"
    );
    assert_eq!(open.len(), 5, "stdio, the socket and the pidfile: {open:?}");
    let mut greeting = String::new();
    TcpStream::connect(addr)
        .unwrap()
        .read_to_string(&mut greeting)
        .unwrap();
    assert_eq!(greeting, format!("hello from pid {pid}\n"));
}

/// A pipe whose read end is closed: writing to it is EPIPE (SIGPIPE is
/// ignored in Rust programs), as a stdout or stderr that nobody reads any
/// more, or a terminal hung up, would be.
fn broken_pipe() -> std::process::Stdio {
    let (read, write) = nix::unistd::pipe().expect("pipe");
    drop(read);
    std::process::Stdio::from(write)
}

/// A start that fails, with its stderr gone: the launcher cannot write its
/// line, and still exits 1, the documented status, not a panic's 101.
#[test]
fn a_failed_start_with_stderr_gone_still_exits_1() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("missing-dir/app.pid");
    let mut command = sandbox.command("service");
    command
        .arg("start")
        .env("APP_PIDFILE", &pidfile)
        .env("APP_LOG", sandbox.path("service.log"))
        .stderr(broken_pipe());
    let launch = Running::spawn(command).wait();
    assert_eq!(launch.status.code(), Some(1), "{launch:?}");
    assert!(sandbox.wait_all_gone(EXIT), "{:?}", sandbox.processes());
}

/// `stop` and `status` with their stdout gone: the daemon is stopped, and
/// the exit statuses are LSB's, 0 and 3, not a panic's 101.
#[test]
fn stop_and_status_with_stdout_gone_keep_their_exit_codes() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("service.pid");
    let service = |command: &str, gone: bool| {
        let mut service = sandbox.command("service");
        service
            .arg(command)
            .env("APP_PIDFILE", &pidfile)
            .env("APP_LOG", sandbox.path("service.log"));
        if gone {
            service.stdout(broken_pipe());
        }
        Running::spawn(service).wait()
    };
    let started = service("start", false);
    let pid = daemon_pid(&started, &pidfile);
    let stopped = service("stop", true);
    assert_eq!(stopped.status.code(), Some(0), "{stopped:?}");
    assert!(wait_until(EXIT, || !alive(pid)));
    let status = service("status", true);
    assert_eq!(status.status.code(), Some(3), "{status:?}");
}

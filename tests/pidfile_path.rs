//! The pidfile's path, walked from `/` by every command: a symbolic link or
//! a second hard link that someone else planted cannot turn `stop`,
//! `reload` or `status` against another process, nor `start` into a write
//! to a root-only file; `start` of a running daemon is LSB's success, and a
//! set-id binary takes no hand-over from its environment. Each rule is shown
//! by replaying the attack it stops.
// Linux only: these tests read /proc/<pid> to see the daemon from outside.
#![cfg(target_os = "linux")]

mod support;

use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{symlink, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::thread;
use std::time::Duration;

use nix::libc;
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{getsid, User};
use support::{
    alive, daemon_pid, example, inherit_fds, is_root, nobody, pid_in, said, signal_mask, skipped,
    stat, stop_now, wait_for_sigwait, wait_until, Launch, Running, Sandbox, EXIT,
};

/// Runs `service COMMAND` (`examples/service.rs`) against `pidfile`, to its exit.
fn service(sandbox: &Sandbox, pidfile: &Path, command: &str) -> Launch {
    // Against a pre-fix build, which signals the wrong process, a stop
    // that waits 10 s for it before SIGKILL only makes the failure slow.
    support::service(
        sandbox,
        pidfile,
        command,
        &[("APP_STOP_TIMEOUT", OsStr::new("1"))],
    )
}

/// The one line of a refusal of `pidfile`: `daemonic: pidfile PATH: refused, REASON`.
fn refusal<'a>(launch: &'a Launch, pidfile: &Path) -> &'a str {
    let prefix = format!("daemonic: pidfile {}: refused, ", pidfile.display());
    let reason = launch
        .stderr
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("not a refusal of {}: {launch:?}", pidfile.display()));
    assert!(!reason.contains('\n'), "more than one line: {launch:?}");
    reason
}

fn mkdir(path: &Path, uid: u32, gid: u32, mode: u32) {
    fs::create_dir(path).unwrap();
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
    // After the chown, which may clear set-id bits; and whatever the umask.
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Runs `sh -c SCRIPT sh ARGS...` as `user`, from the sandbox, to success.
fn shell_as(sandbox: &Sandbox, user: &User, script: &str, args: &[&OsStr]) {
    // The sandbox is root's 0700 temp dir: opened up for the user to reach.
    fs::set_permissions(sandbox.path(""), fs::Permissions::from_mode(0o755)).unwrap();
    let mut command = sandbox.command_for("sh");
    command
        .args(["-c", script, "sh"])
        .args(args)
        .uid(user.uid.as_raw())
        .gid(user.gid.as_raw());
    let done = Running::spawn(command).wait();
    assert!(
        done.status.success(),
        "sh -c {script:?} as {}: {done:?}",
        user.name
    );
}

/// The layout of the attack: `sandbox/NAME` (root, 0755), in it `app`
/// (owned by `app_uid`, mode `app_mode`), in it `run`, nobody's runtime
/// directory, which nobody then swaps for a symbolic link to `target`.
/// Returns the pidfile's path through it, `sandbox/NAME/app/run/app.pid`.
fn symlinked_by_nobody(
    sandbox: &Sandbox,
    name: &str,
    app_uid: u32,
    app_mode: u32,
    target: &Path,
) -> PathBuf {
    let nobody = nobody();
    let top = sandbox.path(name);
    mkdir(&top, 0, 0, 0o755);
    let app = top.join("app");
    mkdir(&app, app_uid, 0, app_mode);
    let run = app.join("run");
    mkdir(&run, nobody.uid.as_raw(), nobody.gid.as_raw(), 0o755);
    shell_as(
        sandbox,
        &nobody,
        r#"rmdir "$1" && ln -s "$2" "$1""#,
        &[run.as_os_str(), target.as_os_str()],
    );
    let planted = fs::symlink_metadata(&run).unwrap();
    assert!(planted.file_type().is_symlink());
    assert_eq!(planted.uid(), nobody.uid.as_raw(), "nobody's link");
    run.join("app.pid")
}

/// A root service that is not the daemon: `fixture-bystander`, holding its
/// own pidfile open (as its stdin) and `flock`ed, the file naming it, as a
/// daemon holds its pidfile. A command that reaches that file through a
/// planted link would find it locked, named, held open, and root's: before
/// the fix, signalled. It records every signal it gets.
struct RootService {
    pid: i32,
    marker: PathBuf,
    _running: Running,
}

impl RootService {
    fn start(sandbox: &Sandbox, pidfile: &Path) -> RootService {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(pidfile)
            .unwrap();
        fs::set_permissions(pidfile, fs::Permissions::from_mode(0o644)).unwrap();
        // SAFETY: flock on an fd that `file` keeps open.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_eq!(locked, 0, "lock {}", pidfile.display());
        let marker = sandbox.path("rootsvc.signals");
        let mut command = sandbox.command("fixture-bystander");
        // The service's fd 0 shares the locked description: the lock is its
        // own once this process lets go of `file`.
        command
            .env("APP_MARKER", &marker)
            .stdin(Stdio::from(file.try_clone().unwrap()));
        let running = Running::spawn(command);
        let sigterm = 1 << (libc::SIGTERM - 1);
        assert!(
            wait_until(EXIT, || signal_mask(running.pid, "SigCgt") & sigterm != 0),
            "the root service never caught its signals"
        );
        file.write_all_at(format!("{}\n", running.pid).as_bytes(), 0)
            .unwrap();
        RootService {
            pid: running.pid,
            marker,
            _running: running,
        }
    }

    /// Alive, and no signal arrived.
    fn assert_untouched(&self, after: &str) {
        // A signal sent just now has its handler run first.
        thread::sleep(Duration::from_millis(100));
        assert!(
            alive(self.pid),
            "{after}: the root service {} was killed",
            self.pid
        );
        let got = fs::read_to_string(&self.marker).unwrap_or_default();
        assert_eq!(
            got, "",
            "{after}: the root service {} got these signals",
            self.pid
        );
    }
}

/// The daemon's user, say, may write the directory that holds a directory
/// of the pidfile's path, and swaps that directory for a link to a root
/// service's runtime directory, whose pidfile is locked and names the root
/// service. `stop`, `reload` and `status`, run by root, must signal nothing
/// and refuse with exit 4.
///
/// The link sits in a root-owned, sticky, world-writable directory (as
/// `/run/lock` or `/var/tmp` are): that directory passes the directory rules,
/// so only the symlink rule (a link owned by neither root nor the invoker)
/// can refuse, and the reason must name the symbolic link. The same link in
/// a directory that nobody owns is refused too (which rule speaks first is
/// not fixed, so only the refusal is asserted there).
#[test]
fn a_symlinked_ancestor_cannot_make_stop_reload_or_status_signal_a_root_service() {
    if !is_root("a_symlinked_ancestor_cannot_make_stop_reload_or_status_signal_a_root_service") {
        return;
    }
    let sandbox = Sandbox::new();
    let rootsvc = sandbox.path("rootsvc");
    mkdir(&rootsvc, 0, 0, 0o755);
    let roots_pidfile = rootsvc.join("app.pid");
    let roots = RootService::start(&sandbox, &roots_pidfile);
    // The control: read at its own path, the file names a process that
    // holds it, so a command that reaches it through the link would act.
    let running = format!("running (pid {})", roots.pid);
    assert_eq!(
        said(&service(&sandbox, &roots_pidfile, "status")),
        (Some(0), running.as_str())
    );

    let nobody_uid = nobody().uid.as_raw();
    for (name, app_uid, app_mode) in [("shared", 0, 0o1777), ("owned", nobody_uid, 0o755)] {
        let pidfile = symlinked_by_nobody(&sandbox, name, app_uid, app_mode, &rootsvc);
        for command in ["stop", "reload", "status"] {
            let answer = service(&sandbox, &pidfile, command);
            let what = format!("{command} through {name}/app/run");
            assert_eq!(answer.status.code(), Some(4), "{what}: {answer:?}");
            assert_eq!(answer.stdout, "", "{what}");
            let reason = refusal(&answer, &pidfile);
            println!("{what}: refused, {reason}");
            if name == "shared" {
                assert!(reason.contains("symbolic link"), "{what}: {reason}");
            }
            roots.assert_untouched(&what);
        }
    }
    assert_eq!(pid_in(&roots_pidfile), roots.pid);
}

/// The same planted link, to a directory only root may enter, holding a
/// root-only file at the pidfile's name: root's `start` must not lock,
/// truncate, chmod or write it, and must leave no daemon.
#[test]
fn start_through_a_symlinked_ancestor_leaves_a_root_only_file_untouched() {
    if !is_root("start_through_a_symlinked_ancestor_leaves_a_root_only_file_untouched") {
        return;
    }
    let sandbox = Sandbox::new();
    let private = sandbox.path("private");
    mkdir(&private, 0, 0, 0o700);
    let secret = private.join("app.pid");
    fs::write(&secret, "secret\n").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    let pidfile = symlinked_by_nobody(&sandbox, "srv", 0, 0o1777, &private);

    let answer = service(&sandbox, &pidfile, "start");
    assert_eq!(answer.status.code(), Some(1), "{answer:?}");
    let reason = refusal(&answer, &pidfile);
    assert!(reason.contains("symbolic link"), "{reason}");
    assert_eq!(fs::read_to_string(&secret).unwrap(), "secret\n");
    let mode = fs::metadata(&secret).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o600, "the file's mode is now {mode:o}");
    let entries: Vec<_> = fs::read_dir(&private)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(
        entries,
        ["app.pid"],
        "a file was made in the private directory"
    );
    assert!(
        sandbox.wait_all_gone(EXIT),
        "a daemon was left: {:?}",
        sandbox.processes()
    );
}

/// The control: a link that root made in a root-only directory
/// (`/var/run -> ../run`, as distributions have it) is followed, and the
/// whole cycle works through it.
#[test]
fn a_root_made_directory_symlink_still_works() {
    if !is_root("a_root_made_directory_symlink_still_works") {
        return;
    }
    let sandbox = Sandbox::new();
    mkdir(&sandbox.path("var"), 0, 0, 0o755);
    mkdir(&sandbox.path("run"), 0, 0, 0o755);
    symlink("../run", sandbox.path("var/run")).unwrap();
    let pidfile = sandbox.path("var/run/app.pid");

    let pid = daemon_pid(&service(&sandbox, &pidfile, "start"), &pidfile);
    assert_eq!(pid_in(&sandbox.path("run/app.pid")), pid);
    let running = format!("running (pid {pid})");
    assert_eq!(
        said(&service(&sandbox, &pidfile, "status")),
        (Some(0), running.as_str())
    );
    let stopped = format!("stopped (pid {pid})");
    assert_eq!(
        said(&service(&sandbox, &pidfile, "stop")),
        (Some(0), stopped.as_str())
    );
    assert!(!alive(pid));
    assert!(!sandbox.path("run/app.pid").exists());
}

/// A second name for a root service's locked pidfile, at the service's
/// pidfile path: `stop` must see the two links, refuse with exit 4, and
/// signal nothing.
#[test]
fn a_pidfile_with_two_links_is_refused_by_stop_and_nothing_is_signalled() {
    if !is_root("a_pidfile_with_two_links_is_refused_by_stop_and_nothing_is_signalled") {
        return;
    }
    let sandbox = Sandbox::new();
    let rootsvc = sandbox.path("rootsvc");
    mkdir(&rootsvc, 0, 0, 0o755);
    let roots_pidfile = rootsvc.join("app.pid");
    let roots = RootService::start(&sandbox, &roots_pidfile);
    let svc = sandbox.path("svc");
    mkdir(&svc, 0, 0, 0o755);
    let pidfile = svc.join("app.pid");
    fs::hard_link(&roots_pidfile, &pidfile).unwrap();

    let answer = service(&sandbox, &pidfile, "stop");
    assert_eq!(answer.status.code(), Some(4), "{answer:?}");
    assert_eq!(answer.stdout, "");
    let reason = refusal(&answer, &pidfile);
    assert!(reason.contains("hard links"), "{reason}");
    roots.assert_untouched("stop");
}

/// LSB: `start` of a service that runs already is a success, and starts
/// nothing; it names the running pid.
#[test]
fn start_twice_exits_0_both_times_and_one_daemon_runs() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("service.pid");
    let pid = daemon_pid(&service(&sandbox, &pidfile, "start"), &pidfile);
    let already = format!("already running (pid {pid})");
    assert_eq!(
        said(&service(&sandbox, &pidfile, "start")),
        (Some(0), already.as_str())
    );
    assert!(
        wait_until(EXIT, || sandbox.processes() == [pid]),
        "not exactly the one daemon: {:?}",
        sandbox.processes()
    );
    assert_eq!(pid_in(&pidfile), pid);
    let stopped = format!("stopped (pid {pid})");
    assert_eq!(
        said(&service(&sandbox, &pidfile, "stop")),
        (Some(0), stopped.as_str())
    );
}

/// `examples/init/service.sh`, run by `sh` as init would run it, with the
/// LSB exit codes: start 0 (twice), status 0, stop 0 (twice), status 3,
/// restart 0.
#[test]
fn the_lsb_init_script_gives_the_lsb_codes() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("service.pid");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/init/service.sh");
    let init = |action: &str| {
        let mut command = sandbox.command_for("sh");
        command
            .arg(&script)
            .arg(action)
            .env("DAEMON", example("service"))
            .env("APP_PIDFILE", &pidfile)
            .env("APP_LOG", sandbox.path("service.log"));
        let answer = Running::spawn(command).wait();
        (answer.status.code(), answer)
    };
    let mut codes = Vec::new();
    for action in [
        "start", "start", "status", "stop", "stop", "status", "restart",
    ] {
        let (code, answer) = init(action);
        codes.push((action, code));
        println!("{action}: {answer:?}");
    }
    assert_eq!(
        codes,
        [
            ("start", Some(0)),
            ("start", Some(0)),
            ("status", Some(0)),
            ("stop", Some(0)),
            ("stop", Some(0)),
            ("status", Some(3)),
            ("restart", Some(0)),
        ]
    );
    // restart left one daemon running; the script stops it.
    let pid = pid_in(&pidfile);
    assert!(alive(pid));
    assert_eq!(init("stop").0, Some(0));
    assert!(!alive(pid));
    assert!(
        sandbox.wait_all_gone(EXIT),
        "left: {:?}",
        sandbox.processes()
    );
}

/// A set-gid binary (AT_SECURE), run by root with a forged hand-over in
/// its environment: `DAEMONIC_UPGRADE` whose parent is the launcher's real
/// parent (this test), with the fds it names open, and the socket
/// activation's variables. It must ignore them all and detach as usual: the
/// launcher exits 0, the daemon is in a new session (which, after the
/// second fork, it does not lead), not the test's as a hand-over's new
/// process would be, and the pidfile names it.
#[test]
fn a_set_id_binary_ignores_a_forged_hand_over() {
    if !is_root("a_set_id_binary_ignores_a_forged_hand_over") {
        return;
    }
    let sandbox = Sandbox::new();
    let nosuid = statvfs(&sandbox.path(""))
        .unwrap()
        .flags()
        .contains(FsFlags::ST_NOSUID);
    if nosuid {
        skipped(
            "a_set_id_binary_ignores_a_forged_hand_over",
            "the temp dir is on a nosuid mount",
        );
        return;
    }
    let binary = sandbox.copy_binary("service", "setgid-service");
    let nogroup = nobody().gid.as_raw();
    std::os::unix::fs::chown(&binary, None, Some(nogroup)).unwrap();
    fs::set_permissions(&binary, fs::Permissions::from_mode(0o2755)).unwrap();
    assert_eq!(fs::metadata(&binary).unwrap().mode() & 0o7777, 0o2755);

    let pidfile = sandbox.path("service.pid");
    let forged = format!("-,9,10,{},0", std::process::id());
    let mut command = sandbox.command_for(&binary);
    command
        .arg("start")
        .env("APP_PIDFILE", &pidfile)
        .env("APP_LOG", sandbox.path("service.log"))
        .env("DAEMONIC_UPGRADE", &forged)
        .env("LISTEN_FDS", "1")
        .env("LISTEN_PID", "1")
        .env("LISTEN_FDNAMES", "forged");
    // The fds the forged variable names are open, as a hand-over's would be.
    inherit_fds(&mut command, &[9, 10]);
    let launch = Running::spawn(command).wait();
    let pid = daemon_pid(&launch, &pidfile);
    assert_ne!(
        pid, launch.pid,
        "the launcher itself stayed, as a hand-over does"
    );
    assert!(alive(pid));
    let seen = stat(pid);
    assert_ne!(
        seen.session,
        getsid(None).unwrap().as_raw(),
        "the daemon stayed in the test's session, as a hand-over's does: {seen:?}"
    );
    assert_ne!(seen.session, pid, "the daemon leads its session: {seen:?}");
    // It runs set-gid: the forgery reached the process it was meant for.
    let gid = support::status_line(pid, "Gid");
    assert!(
        gid.split(' ').nth(1) == Some(nogroup.to_string().as_str()),
        "not running set-gid: Gid {gid}"
    );
    wait_for_sigwait(pid);
    // A command with the same forgery is the command, not a take-over
    // (which runs no command, whatever the arguments say).
    let mut status = sandbox.command_for(&binary);
    status
        .arg("status")
        .env("APP_PIDFILE", &pidfile)
        .env("APP_LOG", sandbox.path("service.log"))
        .env("DAEMONIC_UPGRADE", &forged);
    inherit_fds(&mut status, &[9, 10]);
    let status = Running::spawn(status).wait();
    assert_eq!(status.status.code(), Some(0), "{status:?}");
    assert_eq!(status.stdout, format!("running (pid {pid})\n"));
    stop_now(pid, &pidfile);
}

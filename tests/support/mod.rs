//! What the integration tests share: launching fixtures in a sandbox, reading
//! `/proc/<pid>` from outside, and killing, by pid, every process a test started.
#![allow(dead_code)] // each test binary uses a different part

pub mod app;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use nix::fcntl::{open, OFlag};
use nix::libc;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::unistd::{setsid, Pid, User};
use std::fs::File;
use std::os::fd::AsFd;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;

/// Long enough for a loaded CI machine; a launch that takes this long is a hang.
const LAUNCH_LIMIT: Duration = Duration::from_secs(30);
const TOKEN_VAR: &str = "DAEMONIC_TEST_TOKEN";

/// A temp dir, and a token in the environment of every process launched from
/// it: the processes carrying the token are exactly the ones this test
/// started, daemons included, and dropping the sandbox kills them by pid.
pub struct Sandbox {
    dir: tempfile::TempDir,
    /// The dir's canonical path, as `/proc/<pid>/cwd` and `fd` show it.
    root: PathBuf,
    token: String,
}

/// What a launcher did: its pid, exit status and output.
#[derive(Debug)]
pub struct Launch {
    pub pid: i32,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = tempfile::tempdir().expect("temp dir");
        let token = format!(
            "{}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            dir.path().display()
        );
        let root = dir.path().canonicalize().expect("canonical temp dir");
        Sandbox { dir, root, token }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// A command for an example or fixture, run from the sandbox, carrying the token.
    pub fn command(&self, binary: &str) -> Command {
        self.command_for(example(binary))
    }

    /// A command for any program, run from the sandbox, carrying the token.
    pub fn command_for(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(program);
        // What the runner's own environment may carry must not switch a
        // fixture to the foreground or change its options.
        for (name, _) in std::env::vars_os() {
            if name.to_str().is_some_and(|name| {
                name.starts_with("APP_")
                    || name == "NOTIFY_SOCKET"
                    || name == daemonic::FOREGROUND_ENV
            }) {
                command.env_remove(name);
            }
        }
        command
            .current_dir(&self.root)
            .env(TOKEN_VAR, &self.token)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// A command for a copy of an example or fixture that `user` may run: the
    /// build tree may sit where only root can reach, the sandbox may not.
    pub fn command_as(&self, binary: &str, user: &User) -> Command {
        fs::set_permissions(&self.root, fs::Permissions::from_mode(0o755)).unwrap();
        let copy = self.path(binary);
        if !copy.exists() {
            self.copy_binary(binary, binary);
        }
        let mut command = self.command_for(copy);
        command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        command
    }

    /// Copies an example or fixture into the sandbox as `name`, runnable by all.
    pub fn copy_binary(&self, binary: &str, name: &str) -> PathBuf {
        let copy = self.path(name);
        // Copied by `cp`, not `fs::copy`: a write descriptor of the copy open
        // in this process is inherited by any fork another test thread makes
        // meanwhile, and exec of the copy then fails with ETXTBSY until that
        // child has exec'd in turn.
        let status = Command::new("cp")
            .arg(example(binary))
            .arg(&copy)
            .status()
            .expect("run cp");
        assert!(status.success(), "cp {binary} into the sandbox: {status}");
        // cp applies this process's umask, which may deny another user the exec bit.
        fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
        copy
    }

    /// Runs a launcher to its exit.
    pub fn launch(&self, binary: &str, env: &[(&str, &OsStr)]) -> Launch {
        let mut command = self.command(binary);
        command.envs(env.iter().copied());
        Running::spawn(command).wait()
    }

    /// Runs a launcher to its exit, from another directory.
    pub fn launch_in(&self, cwd: &Path, binary: &str, env: &[(&str, &OsStr)]) -> Launch {
        let mut command = self.command(binary);
        command.current_dir(cwd).envs(env.iter().copied());
        Running::spawn(command).wait()
    }

    /// The token's variable, as `NAME=VALUE`, for a program that passes on
    /// only the environment it is told to (`systemd-socket-activate -E`).
    pub fn token_assignment(&self) -> String {
        format!("{TOKEN_VAR}={}", self.token)
    }

    /// Live processes this sandbox started (launchers, forks and daemons).
    pub fn processes(&self) -> Vec<i32> {
        let needle = format!("{TOKEN_VAR}={}", self.token);
        let Ok(entries) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| {
                    environ
                        .split(|&b| b == 0)
                        .any(|var| var == needle.as_bytes())
                })
            })
            .collect()
    }

    /// Waits until none of this sandbox's processes is alive.
    pub fn wait_all_gone(&self, limit: Duration) -> bool {
        wait_until(limit, || self.processes().is_empty())
    }
}

/// A process started from a sandbox, its output collected as it goes.
pub struct Running {
    pub pid: i32,
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl Running {
    pub fn spawn(mut command: Command) -> Running {
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
        // On a terminal there is no pipe: the output is the master's to read.
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        Running {
            pid: child.id() as i32,
            child,
            stdout: read_in_background(stdout),
            stderr: read_in_background(stderr),
        }
    }

    /// Waits for the process to exit; past the limit it is a hang, and a failure.
    pub fn wait(mut self) -> Launch {
        let deadline = Instant::now() + LAUNCH_LIMIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for the launcher") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("pid {} did not exit within {LAUNCH_LIMIT:?}", self.pid);
            }
            thread::sleep(Duration::from_millis(2));
        };
        let deadline = Instant::now() + EXIT;
        Launch {
            pid: self.pid,
            status,
            stdout: output_at_end(&self.stdout, "stdout", deadline),
            stderr: output_at_end(&self.stderr, "stderr", deadline),
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Killed again on every pass: a process may fork after a scan.
        let all_gone = wait_until(Duration::from_secs(10), || {
            let left = self.processes();
            for &pid in &left {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            left.is_empty()
        });
        if !all_gone && !thread::panicking() {
            panic!(
                "processes of this test survived SIGKILL: {:?}",
                self.processes()
            );
        }
    }
}

/// Reads a pipe to its end on a thread of its own.
fn read_in_background(pipe: Option<impl Read + Send + 'static>) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        let _ = sender.send(text);
    });
    receiver
}

/// What a pipe carried, once every writer has closed it. A daemon that kept
/// its launcher's stdout or stderr open never lets that happen: it fails the
/// test rather than hanging it.
fn output_at_end(output: &Receiver<String>, name: &str, deadline: Instant) -> String {
    let left = deadline.saturating_duration_since(Instant::now());
    output
        .recv_timeout(left)
        .unwrap_or_else(|_| panic!("the launcher's {name} is still held open by another process"))
}

/// The address a server printed through its launcher: its one stdout line
/// `addr: ADDRESS`.
pub fn addr_of(launch: &Launch) -> String {
    launch
        .stdout
        .strip_prefix("addr: ")
        .and_then(|rest| rest.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("no addr: {launch:?}"))
        .to_owned()
}

/// The path of an example or fixture binary. A plain `cargo test` builds them
/// beside the tests; `cargo test --test NAME` does not, hence the hint.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo test --workspace`, or `cargo build --examples` first",
        path.display()
    );
    path
}

pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// The pid a pidfile holds; it must be complete, newline included.
pub fn pid_in(pidfile: &Path) -> i32 {
    let text =
        fs::read_to_string(pidfile).unwrap_or_else(|e| panic!("read {}: {e}", pidfile.display()));
    assert!(
        text.ends_with('\n'),
        "pidfile content {text:?} lacks its newline"
    );
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("pidfile content {text:?}"))
}

/// The fields of `/proc/<pid>/stat` the tests look at.
#[derive(Debug)]
pub struct Stat {
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    pub tty_nr: i32,
}

/// A file of `/proc/<pid>`. The command name in it is cut at 15 bytes, maybe
/// inside a character, so it is not read as strict UTF-8.
fn proc_file(pid: i32, name: &str) -> Option<String> {
    let bytes = fs::read(format!("/proc/{pid}/{name}")).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

pub fn stat(pid: i32) -> Stat {
    let text = proc_file(pid, "stat").expect("read stat");
    // The command name may hold spaces and parentheses; the fields start after the last ')'.
    let fields: Vec<&str> = text[text.rfind(')').expect("comm") + 2..]
        .split(' ')
        .collect();
    let field = |i: usize| fields[i].parse().expect("numeric stat field");
    // After comm: state, ppid, pgrp, session, tty_nr.
    Stat {
        ppid: field(1),
        pgrp: field(2),
        session: field(3),
        tty_nr: field(4),
    }
}

fn status_field(pid: i32, name: &str) -> String {
    let text = proc_file(pid, "status").expect("read status");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("{name} missing from /proc/{pid}/status"))
        .trim()
        .to_owned()
}

pub fn umask(pid: i32) -> u32 {
    u32::from_str_radix(&status_field(pid, "Umask"), 8).expect("octal umask")
}

pub fn threads(pid: i32) -> usize {
    status_field(pid, "Threads").parse().expect("thread count")
}

pub fn cwd(pid: i32) -> PathBuf {
    fs::read_link(format!("/proc/{pid}/cwd")).expect("read cwd")
}

/// A daemon's fds once it has let go of its report pipe, which it closes
/// just after the Ready that released the launcher.
pub fn daemon_fds(pid: i32) -> BTreeMap<i32, PathBuf> {
    let report_closed = |fds: &BTreeMap<i32, PathBuf>| {
        !fds.values()
            .any(|target| target.to_string_lossy().starts_with("pipe:"))
    };
    wait_until(EXIT, || report_closed(&fds(pid)));
    fds(pid)
}

/// Each open fd and what it points at.
pub fn fds(pid: i32) -> BTreeMap<i32, PathBuf> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("list fds")
        .filter_map(|entry| {
            let entry = entry.expect("fd entry");
            let fd = entry.file_name().to_str().unwrap().parse().unwrap();
            match fs::read_link(entry.path()) {
                Ok(target) => Some((fd, target)),
                // Closed between the listing and the look: it is not open.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => panic!("fd {fd} of {pid}: {e}"),
            }
        })
        .collect()
}

pub fn alive(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok() && !is_zombie(pid)
}

fn is_zombie(pid: i32) -> bool {
    proc_file(pid, "stat")
        .map(|text| text[text.rfind(')').unwrap_or(0)..].starts_with(") Z"))
        .unwrap_or(true)
}

fn terminate(pid: i32) {
    kill(Pid::from_raw(pid), Signal::SIGTERM).expect("SIGTERM the daemon");
}

/// How long a daemon may take to stop or to write a line.
pub const EXIT: Duration = Duration::from_secs(10);

pub fn os(path: &Path) -> &OsStr {
    path.as_os_str()
}

/// A successful launch leaves a daemon: its pid, from the pidfile.
pub fn daemon_pid(launch: &Launch, pidfile: &Path) -> i32 {
    assert!(
        launch.status.success(),
        "launcher failed: {:?}, stderr {:?}",
        launch.status,
        launch.stderr
    );
    assert_eq!(launch.stderr, "", "a successful launcher prints nothing");
    pid_in(pidfile)
}

/// Stops a fixture with SIGTERM, once its handler is in place; it returns
/// from main, which removes the pidfile.
pub fn stop(pid: i32, pidfile: &Path) {
    wait_for_sigterm_handler(pid);
    stop_now(pid, pidfile);
}

/// Stops a fixture that has no pidfile, as [`stop`] does.
pub fn stop_without_pidfile(pid: i32) {
    wait_for_sigterm_handler(pid);
    terminate(pid);
    assert!(wait_until(EXIT, || !alive(pid)), "{pid} ignored SIGTERM");
}

/// Before main installs its handler, SIGTERM would kill the process
/// outright, with no return from main.
fn wait_for_sigterm_handler(pid: i32) {
    let sigterm = 1 << (libc::SIGTERM - 1);
    assert!(
        wait_until(EXIT, || signal_mask(pid, "SigCgt") & sigterm != 0),
        "{pid} never got ready for SIGTERM"
    );
}

/// Waits until `pid` sleeps in sigwait (its wchan names sigtimedwait), as
/// programs that block SIGTERM and wait for it do once they are ready.
/// SigBlk would not do: while sigwait waits, the kernel shows the awaited
/// signals unblocked.
pub fn wait_for_sigwait(pid: i32) {
    assert!(
        wait_until(EXIT, || fs::read_to_string(format!("/proc/{pid}/wchan"))
            .is_ok_and(|wchan| wchan.contains("sigtimedwait"))),
        "{pid} never waited for a signal"
    );
}

/// Stops a daemon known to be waiting for SIGTERM already.
pub fn stop_now(pid: i32, pidfile: &Path) {
    terminate(pid);
    assert!(
        wait_until(EXIT, || !alive(pid)),
        "daemon {pid} ignored SIGTERM"
    );
    assert!(
        !pidfile.exists(),
        "the pidfile outlived a normal exit of main"
    );
}

/// A failed launch: exit 1, the one line expected, and nothing left behind.
pub fn assert_failed_cleanly(sandbox: &Sandbox, launch: &Launch, line: &str, pidfile: &Path) {
    assert_eq!(launch.status.code(), Some(1), "stderr {:?}", launch.stderr);
    assert_eq!(launch.stderr, format!("daemonic: {line}\n"));
    assert!(
        sandbox.wait_all_gone(EXIT),
        "processes left behind: {:?}",
        sandbox.processes()
    );
    assert!(!pidfile.exists(), "stray pidfile {}", pidfile.display());
}

/// Whether the tests run as root; the root-only ones say so when they skip.
pub fn is_root(test: &str) -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        // Straight to fd 2: the harness captures eprintln! of passing tests.
        let _ = writeln!(std::io::stderr(), "skipped {test}: it needs root");
    }
    root
}

/// A process that is not the daemon (`fixture-bystander`), for a stale or
/// forged pidfile or frame to name. It records every catchable signal it
/// gets, so that "untouched" means no signal at all, not only "alive".
pub struct Bystander {
    pub pid: i32,
    marker: PathBuf,
    _running: Running,
}

impl Sandbox {
    pub fn bystander(&self, name: &str) -> Bystander {
        self.bystander_with(name, &[])
    }

    /// [`Sandbox::bystander`], with more of its environment (`APP_HOLD`).
    pub fn bystander_with(&self, name: &str, env: &[(&str, &OsStr)]) -> Bystander {
        let marker = self.path(&format!("{name}.signals"));
        let mut command = self.command("fixture-bystander");
        command.env("APP_MARKER", &marker).envs(env.iter().copied());
        let running = Running::spawn(command);
        // Its handlers are in place before the test goes on.
        let sigterm = 1 << (libc::SIGTERM - 1);
        assert!(
            wait_until(EXIT, || signal_mask(running.pid, "SigCgt") & sigterm != 0),
            "the bystander never caught its signals"
        );
        Bystander {
            pid: running.pid,
            marker,
            _running: running,
        }
    }
}

impl Bystander {
    /// Alive, and no signal arrived.
    pub fn assert_untouched(&self) {
        // A signal sent just now has its handler run first.
        thread::sleep(Duration::from_millis(100));
        assert!(alive(self.pid), "the bystander {} was killed", self.pid);
        let got = fs::read_to_string(&self.marker).unwrap_or_default();
        assert_eq!(got, "", "the bystander {} got these signals", self.pid);
    }
}

/// The daemon's own code writes a second pid frame, naming a bystander, to
/// its launcher, and is never ready: at the timeout the launcher stops the
/// daemon, its own child, and signals nobody else. `env` adds to the
/// fixture's environment (the portable fallbacks, say).
pub fn assert_a_forged_pid_frame_signals_nobody_else(env: &[(&str, &OsStr)]) {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let bystander = sandbox.bystander("bystander");
    let forged = format!("pid:{}", bystander.pid);
    let mut command = sandbox.command("fixture-forge");
    command
        .env("APP_PIDFILE", &pidfile)
        .env("APP_FORGE", &forged)
        .envs(env.iter().copied());
    let launch = Running::spawn(command).wait();
    assert_eq!(
        launch.stderr,
        "daemonic: the daemon was not ready after 1s, so it was stopped\n"
    );
    bystander.assert_untouched();
    assert!(
        wait_until(EXIT, || sandbox.processes() == [bystander.pid]),
        "the real daemon was left running: {:?}",
        sandbox.processes()
    );
    assert!(!pidfile.exists());
}

/// Whether `strace` is installed; the tests that count system calls with it
/// say so when they skip (`.ci/run` installs it).
pub fn has_strace(test: &str) -> bool {
    let found = Command::new("strace")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        let _ = writeln!(std::io::stderr(), "skipped {test}: it needs strace");
    }
    found
}

/// Has `command` start with /dev/null open on each of `fds`, inherited as a
/// careless parent would hand them down; returns them.
pub fn inherit_fds(command: &mut Command, fds: &[i32]) -> Vec<i32> {
    let inherited = fds.to_vec();
    let fds = inherited.clone();
    // SAFETY: open and dup2 are async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
            for &fd in &fds {
                if libc::dup2(null, fd) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    inherited
}

/// The open flags of `fd` in `pid`, from `/proc/<pid>/fdinfo`.
pub fn fd_flags(pid: i32, fd: i32) -> i32 {
    let info = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).expect("read fdinfo");
    let flags = info
        .lines()
        .find_map(|line| line.strip_prefix("flags:"))
        .expect("flags in fdinfo");
    i32::from_str_radix(flags.trim(), 8).expect("octal flags")
}

/// The `Uid:`, `Gid:`, `Groups:`, `CapPrm:` ... lines of `/proc/<pid>/status`,
/// by name, their fields joined by single spaces.
pub fn status_line(pid: i32, name: &str) -> String {
    status_field(pid, name)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A directory of the sandbox that `user` owns, as a daemon's own log or
/// runtime directory is; the sandbox is opened up for `user` to reach it.
pub fn directory_of(sandbox: &Sandbox, name: &str, user: &User) -> PathBuf {
    fs::set_permissions(&sandbox.root, fs::Permissions::from_mode(0o755)).unwrap();
    let dir = sandbox.path(name);
    fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(user.uid.as_raw()), Some(user.gid.as_raw())).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Waits until the file holds a line that starts with `prefix`, and returns it.
pub fn wait_for_line(path: &Path, prefix: &str) -> String {
    let mut found = None;
    let seen = wait_until(EXIT, || {
        found = fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .find(|line| line.starts_with(prefix))
            .map(str::to_owned);
        found.is_some()
    });
    assert!(seen, "no line {prefix:?} in {}", path.display());
    found.unwrap()
}

/// The unprivileged account the tests switch to.
pub fn nobody() -> User {
    User::from_name("nobody")
        .expect("passwd")
        .expect("a user named nobody")
}

/// Waits for a pidfile that holds a whole line.
pub fn wait_for_pidfile(pidfile: &Path) -> i32 {
    assert!(
        wait_until(EXIT, || fs::read_to_string(pidfile)
            .is_ok_and(|t| t.ends_with('\n'))),
        "no pid in {}",
        pidfile.display()
    );
    pid_in(pidfile)
}

/// Gives `command` a controlling terminal, as a shell in a terminal window
/// has: a new pty as its stdio, and a session of its own whose terminal that
/// pty is. Returns the master side; dropping it hangs the terminal up.
pub fn on_terminal(command: &mut Command) -> File {
    // Both ends close-on-exec from the start: a copy leaked into a process
    // that another test spawns meanwhile would keep the terminal from hanging up.
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).expect("openpt");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let slave_path = ptsname_r(&master).expect("ptsname");
    let slave = open(
        slave_path.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .expect("open the pty slave");
    let stdio = || Stdio::from(slave.try_clone().expect("dup the pty slave"));
    command.stdin(stdio()).stdout(stdio()).stderr(stdio());
    // SAFETY: setsid and ioctl are async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            // A runner started under nohup hands its ignored SIGHUP down, and
            // the hangup would then end nothing.
            libc::signal(libc::SIGHUP, libc::SIG_DFL);
            setsid()?;
            if libc::ioctl(0, libc::TIOCSCTTY, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // SAFETY: the PtyMaster's fd is moved into the File, which owns it from here.
    unsafe { File::from_raw_fd(master.into_raw_fd()) }
}

/// Reads what the terminal shows until `done` holds for it, or panics.
pub fn read_terminal_until(master: &mut File, mut done: impl FnMut(&str) -> bool) -> String {
    let mut screen = String::new();
    let deadline = Instant::now() + EXIT;
    while !done(&screen) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "the terminal never showed it; it shows {screen:?}"
        );
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        let timeout = PollTimeout::try_from(left.as_millis().min(60_000) as i32).unwrap();
        if poll(&mut fds, timeout).expect("poll the pty") == 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        match master.read(&mut buf) {
            Ok(0) | Err(_) => panic!("the terminal closed; it showed {screen:?}"),
            Ok(len) => screen.push_str(&String::from_utf8_lossy(&buf[..len])),
        }
    }
    screen
}

/// Raises the soft RLIMIT_NOFILE to the hard one, for this process and the
/// processes it starts, and returns it.
pub fn raise_nofile_limit() -> u64 {
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).expect("setrlimit");
    hard
}

/// A signal mask of `/proc/<pid>/status`: `SigBlk`, `SigIgn` or `SigCgt`.
pub fn signal_mask(pid: i32, name: &str) -> u64 {
    u64::from_str_radix(&status_field(pid, name), 16).expect("hex signal mask")
}

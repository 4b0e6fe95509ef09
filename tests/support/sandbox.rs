//! Launching fixtures from a sandbox; killing, by pid, all that a test started.

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use nix::libc;
use nix::sys::signal::{kill, Signal};
use nix::unistd::{Pid, User};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;

use super::{wait_until, EXIT};

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
        self.open_to_all();
        let copy = self.path(binary);
        if !copy.exists() {
            self.copy_binary(binary, binary);
        }
        let mut command = self.command_for(copy);
        command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        command
    }

    /// Lets every user reach into the sandbox (mode 0755).
    fn open_to_all(&self) {
        fs::set_permissions(&self.root, fs::Permissions::from_mode(0o755)).unwrap();
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
        let needle = self.token_assignment();
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

/// A directory of the sandbox that `user` owns, as a daemon's own log or
/// runtime directory is; the sandbox is opened up for `user` to reach it.
pub fn directory_of(sandbox: &Sandbox, name: &str, user: &User) -> PathBuf {
    sandbox.open_to_all();
    let dir = sandbox.path(name);
    fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(user.uid.as_raw()), Some(user.gid.as_raw())).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    dir
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

/// A path as an environment value, for the `env` slices of [`Sandbox::launch`].
pub fn os(path: &Path) -> &OsStr {
    path.as_os_str()
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

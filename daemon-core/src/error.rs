//! The typed error of a detach: which step failed, on what, and the OS error.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::Signal;

/// Why the daemon could not be started.
///
/// Each variant names the step that failed. Its `Display` is the one line the
/// launcher prints after `daemonic: `, for example
/// `workdir /nope: No such file or directory`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The umask has bits outside `0o777`.
    Umask {
        /// The value asked for.
        umask: u32,
    },
    /// A path option was given as an empty string.
    EmptyPath {
        /// The option: `workdir`, `pidfile`, `stdout` or `stderr`.
        option: &'static str,
    },
    /// A path or a name holds a NUL byte, which no system call can take.
    NulByte {
        /// The option: `pidfile`, `user`, ...
        option: &'static str,
        /// The value, as given (lossily, when it is not UTF-8).
        value: String,
    },
    /// A log file path is a symbolic link, refused: in a directory the
    /// daemon's user may write, it could point the daemon's output anywhere.
    LogSymlink {
        /// `stdout` or `stderr`.
        stream: &'static str,
        /// The log file, made absolute.
        path: PathBuf,
    },
    /// Something this OS does not have was asked for.
    Unsupported {
        /// What, as the message names it.
        what: &'static str,
    },
    /// The daemon ended before it was ready, and how is not this process's
    /// to know: on macOS, which has no subreaper, the launcher watches the
    /// daemon's pid but cannot read its exit status.
    ExitedWithoutStatus {
        /// What it said of its end, if anything.
        cause: Option<Cause>,
    },
    /// `control` gave a word that is not a command.
    UnknownCommand {
        /// The word.
        word: String,
    },
    /// A command that acts on the running daemon, without a pidfile to find it by.
    NoPidfile,
    /// The daemon does not run: nothing to signal.
    NotRunning,
    /// The pidfile is locked, but the pid it names is not to be signalled:
    /// that process does not hold the file, or the file's owner could not
    /// signal it. Nothing was signalled.
    NotHolder {
        /// The pidfile.
        path: PathBuf,
        /// The pid it names.
        pid: i32,
        /// Why that process is not believed.
        reason: String,
    },
    /// A signal could not be sent.
    Signal {
        /// To whom.
        pid: i32,
        /// The OS error: EPERM when not allowed.
        source: Errno,
    },
    /// `stop` sent SIGKILL, and the process still ran.
    StillAlive {
        /// Its pid.
        pid: i32,
    },
    /// An upgrade is already running.
    UpgradeRunning,
    /// An upgrade was asked of a program that runs under its own init, as
    /// PID 1 of a container.
    UpgradeUnderInit,
    /// `upgrade` signalled the daemon, and no new process held the pidfile
    /// by the timeout.
    NotUpgraded {
        /// The daemon signalled.
        pid: i32,
        /// How long it waited.
        timeout: Duration,
    },
    /// The new process of an upgrade could not be started.
    Spawn {
        /// The binary.
        path: PathBuf,
        /// The OS error.
        source: Errno,
    },
    /// The daemon neither catches, blocks nor ignores the signal a command
    /// would send it, so it would die of it: nothing was sent (Linux, where
    /// `/proc/<pid>/status` says so).
    SignalNotHandled {
        /// The daemon's pid.
        pid: i32,
        /// The signal's number.
        signal: i32,
        /// The option that chose it: `reload_signal` or `upgrade_signal`.
        option: &'static str,
    },
    /// `upgrade` signalled the daemon, and it exited with no new process
    /// holding the pidfile.
    ExitedWithoutSuccessor {
        /// The daemon signalled.
        pid: i32,
    },
    /// `stop` saw the daemon exit, but another process that the pidfile
    /// does not name kept its lock (a child it left behind, say).
    LockKept {
        /// The daemon that exited.
        pid: i32,
        /// The pidfile.
        path: PathBuf,
    },
    /// Reading the daemon's reports failed: a `poll` or `read` error on the
    /// pipe, not a word about the daemon, which was stopped.
    Report {
        /// The OS error.
        source: Errno,
        /// Whether the daemon was seen to end; if not, its pidfile is left.
        stopped: bool,
    },
    /// A socket that `LISTEN_FDS` announced is not an open fd here.
    Listener {
        /// The fd.
        fd: i32,
        /// The OS error.
        source: Errno,
    },
    /// The fds an upgrade handed to this process are not as announced.
    HandOver {
        /// What is wrong.
        reason: String,
    },
    /// The current directory, needed to resolve a relative path, is unreadable.
    CurrentDir(Errno),
    /// The thread count could not be read (`/proc/self/status` on Linux),
    /// so the thread check cannot be made.
    CountThreads(Errno),
    /// The process already runs more than one thread, so forking it is unsafe.
    Threaded {
        /// How many threads `/proc/self/status` counted.
        threads: usize,
    },
    /// The pipe that carries the outcome back to the launcher.
    Pipe(Errno),
    /// systemd's notify socket, named by `NOTIFY_SOCKET`, could not be reached.
    NotifySocket {
        /// The socket's address, as `NOTIFY_SOCKET` gives it.
        address: std::ffi::OsString,
        /// The OS error.
        source: Errno,
    },
    /// `fork` failed.
    Fork(Errno),
    /// `setsid` failed.
    Setsid(Errno),
    /// `chdir` to the working directory failed.
    Workdir {
        /// The directory, made absolute.
        path: PathBuf,
        /// The OS error.
        source: Errno,
    },
    /// `/dev/null` could not be opened or put on stdin, stdout or stderr.
    DevNull(Errno),
    /// The stdout log file could not be opened or put on fd 1.
    Stdout {
        /// The log file, made absolute.
        path: PathBuf,
        /// The OS error.
        source: Errno,
    },
    /// The stderr log file could not be opened or put on fd 2.
    Stderr {
        /// The log file, made absolute.
        path: PathBuf,
        /// The OS error.
        source: Errno,
    },
    /// Closing the inherited file descriptors failed.
    CloseFds(Errno),
    /// The signal mask could not be cleared.
    Signals(Errno),
    /// The pidfile is a symbolic link, or lies in a directory that others may
    /// write without the sticky bit, where anyone could replace it.
    PidfileUnsafe {
        /// The pidfile, made absolute.
        path: PathBuf,
        /// Why it is refused.
        reason: String,
    },
    /// No user has this name, or this uid has no passwd entry to take a group from.
    UnknownUser {
        /// The user as given.
        user: String,
    },
    /// No group has this name.
    UnknownGroup {
        /// The group as given.
        group: String,
    },
    /// The passwd or group database could not be read.
    Lookup {
        /// The user or group as given.
        account: String,
        /// The OS error.
        source: Errno,
    },
    /// A change of user or group was asked for, but the process is not root.
    NotRoot {
        /// What was asked for: `user NAME` or `group NAME`.
        account: String,
        /// The effective uid the process runs as.
        euid: u32,
    },
    /// A `keep_fds` entry that cannot be kept.
    KeepFd {
        /// The fd.
        fd: i32,
        /// Why it cannot be kept.
        reason: &'static str,
    },
    /// `chroot` failed.
    Chroot {
        /// The new root, made absolute.
        path: PathBuf,
        /// The OS error.
        source: Errno,
    },
    /// `setgroups` failed.
    Setgroups(Errno),
    /// `setgid` failed.
    Setgid {
        /// The gid asked for.
        gid: u32,
        /// The OS error.
        source: Errno,
    },
    /// `setuid` failed.
    Setuid {
        /// The uid asked for.
        uid: u32,
        /// The OS error.
        source: Errno,
    },
    /// After the switch to `uid`, `setuid(0)` succeeded: root was not dropped.
    RegainedRoot {
        /// The uid switched to.
        uid: u32,
    },
    /// The pidfile could not be opened, locked or written.
    Pidfile {
        /// The pidfile, made absolute.
        path: PathBuf,
        /// The OS error.
        source: Errno,
    },
    /// Another process holds the pidfile's lock.
    AlreadyRunning {
        /// The pidfile, made absolute.
        path: PathBuf,
        /// The pid written in the pidfile, when it could be read.
        pid: Option<i32>,
    },
    /// The daemon exited before it was ready.
    Exited {
        /// Its exit status.
        status: i32,
        /// What it said of its end, if anything.
        cause: Option<Cause>,
    },
    /// The daemon was killed by a signal before it was ready.
    Killed {
        /// The signal.
        signal: Signal,
        /// What it said of its end, if anything: a panic that raised the
        /// signal, with `panic = "abort"`, say.
        cause: Option<Cause>,
    },
    /// The daemon was not ready in time, and the launcher stopped it.
    ReadyTimeout {
        /// The `ready_timeout` that passed.
        timeout: Duration,
        /// Whether the daemon was seen to end; when not, it may still run,
        /// and its pidfile is left in place.
        stopped: bool,
    },
    /// The daemon ended before it reported, and its status could not be read.
    Vanished,
}

/// What a daemon that ended before it was ready said of its end.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// It panicked, with this message (a panic hook sent it).
    Panicked(String),
    /// It said why it would not be ready, through
    /// [`not_ready`](crate::not_ready): with the attribute, the error that
    /// `main` returned.
    NotReady(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Umask { umask } => {
                write!(f, "umask {umask:#o}: out of range, the largest is 0o777")
            }
            Error::EmptyPath { option } => write!(f, "{option}: the path is empty"),
            Error::UnknownCommand { word } => write!(
                f,
                "unknown command {word:?}; the commands are start, stop, status, reload, restart \
             and upgrade"
            ),
            Error::NoPidfile => write!(
                f,
                "stop, status, reload and restart need a pidfile, to find the daemon by"
            ),
            Error::NotRunning => write!(f, "not running"),
            Error::UpgradeRunning => write!(f, "upgrade: another upgrade is running"),
            Error::UpgradeUnderInit => write!(
                f,
                "upgrade: this program runs as PID 1 of its container, under its own init; roll \
                 out a new version through the orchestrator instead"
            ),
            Error::NotUpgraded { pid, timeout } => write!(
                f,
                "upgrade: pid {pid} was signalled, and no new process held the pidfile after {}s",
                timeout.as_secs_f64()
            ),
            Error::Spawn { path, source } => {
                write!(f, "upgrade: {}: {}", path.display(), source.desc())
            }
            Error::HandOver { reason } => write!(f, "upgrade hand-over: {reason}"),
            Error::SignalNotHandled {
                pid,
                signal,
                option,
            } => {
                let name = nix::sys::signal::Signal::try_from(*signal)
                    .map_or_else(|_| format!("signal {signal}"), |s| s.as_str().to_owned());
                write!(
                    f,
                    "pid {pid} neither catches, blocks nor ignores {name}, and would die of it; \
                     nothing was sent: handle {name} in the daemon, or set {option}"
                )
            }
            Error::ExitedWithoutSuccessor { pid } => write!(
                f,
                "upgrade: pid {pid} exited, and no new process took the pidfile over"
            ),
            Error::LockKept { pid, path } => write!(
                f,
                "pid {pid} exited, but another process still holds {} locked: a child it left \
                 behind, say",
                path.display()
            ),
            Error::Report {
                source,
                stopped: true,
            } => write!(
                f,
                "reading the daemon's reports: {}; the daemon was stopped",
                source.desc()
            ),
            Error::Report {
                source,
                stopped: false,
            } => write!(
                f,
                "reading the daemon's reports: {}; the daemon could not be stopped, and keeps its \
                 pidfile",
                source.desc()
            ),
            Error::Listener { fd, source } => {
                write!(f, "listener fd {fd} (LISTEN_FDS): {}", source.desc())
            }
            Error::NotHolder { path, pid, reason } => write!(
                f,
                "pidfile {}: names pid {pid}, {reason}; nothing was signalled",
                path.display()
            ),
            Error::Signal { pid, source } => write!(f, "signal to pid {pid}: {}", source.desc()),
            Error::StillAlive { pid } => {
                write!(f, "pid {pid} still runs after SIGKILL")
            }
            Error::Unsupported { what } => {
                write!(f, "{what} is not supported on {}", std::env::consts::OS)
            }
            Error::ExitedWithoutStatus { cause: None } => {
                write!(f, "the daemon exited before it was ready")
            }
            Error::ExitedWithoutStatus {
                cause: Some(Cause::Panicked(message)),
            } => write!(f, "the daemon panicked before it was ready: {message}"),
            Error::ExitedWithoutStatus {
                cause: Some(Cause::NotReady(reason)),
            } => write!(f, "the daemon exited before it was ready: {reason}"),
            Error::NulByte { option, value } => {
                write!(f, "{option} {value:?}: contains a NUL byte")
            }
            Error::LogSymlink { stream, path } => {
                write!(
                    f,
                    "{stream} {}: refused, it is a symbolic link",
                    path.display()
                )
            }
            Error::CurrentDir(e) => write!(
                f,
                "current directory, needed to resolve relative paths: {}",
                e.desc()
            ),
            Error::CountThreads(e) => {
                write!(f, "thread check: {}; refusing to fork without it", e.desc())
            }
            Error::Threaded { threads } => write!(
                f,
                "refusing to fork: the process already runs {threads} threads; \
                 detach before any thread or async runtime starts"
            ),
            Error::Pipe(e) => write!(f, "pipe to the launcher: {}", e.desc()),
            Error::NotifySocket { address, source } => write!(
                f,
                "NOTIFY_SOCKET {}: {}",
                Path::new(address).display(),
                source.desc()
            ),
            Error::Fork(e) => write!(f, "fork: {}", e.desc()),
            Error::Setsid(e) => write!(f, "setsid: {}", e.desc()),
            Error::Workdir { path, source } => {
                write!(f, "workdir {}: {}", path.display(), source.desc())
            }
            Error::DevNull(e) => write!(f, "stdio /dev/null: {}", e.desc()),
            Error::Stdout { path, source } => {
                write!(f, "stdout {}: {}", path.display(), source.desc())
            }
            Error::Stderr { path, source } => {
                write!(f, "stderr {}: {}", path.display(), source.desc())
            }
            Error::CloseFds(e) => write!(f, "closing inherited fds: {}", e.desc()),
            Error::Signals(e) => write!(f, "signal mask: {}", e.desc()),
            Error::Pidfile { path, source } => {
                write!(f, "pidfile {}: {}", path.display(), source.desc())
            }
            Error::PidfileUnsafe { path, reason } => {
                write!(f, "pidfile {}: refused, {reason}", path.display())
            }
            Error::UnknownUser { user } => write!(f, "user {user}: no such user"),
            Error::UnknownGroup { group } => write!(f, "group {group}: no such group"),
            Error::Lookup { account, source } => {
                write!(f, "looking up {account}: {}", source.desc())
            }
            Error::NotRoot { account, euid } => write!(
                f,
                "{account}: changing user or group needs root, and this runs as uid {euid}"
            ),
            Error::KeepFd { fd, reason } => write!(f, "keep_fds: fd {fd} {reason}"),
            Error::Chroot { path, source } => {
                write!(f, "chroot {}: {}", path.display(), source.desc())
            }
            Error::Setgroups(e) => write!(f, "setgroups: {}", e.desc()),
            Error::Setgid { gid, source } => write!(f, "setgid {gid}: {}", source.desc()),
            Error::Setuid { uid, source } => write!(f, "setuid {uid}: {}", source.desc()),
            Error::RegainedRoot { uid } => write!(
                f,
                "setuid {uid}: root could be regained afterwards, so the drop is refused"
            ),
            Error::AlreadyRunning { path, pid } => match pid {
                Some(pid) => write!(f, "pidfile {}: already running (pid {pid})", path.display()),
                None => write!(
                    f,
                    "pidfile {}: already running (pid unknown)",
                    path.display()
                ),
            },
            Error::Exited {
                status,
                cause: Some(Cause::Panicked(message)),
            } => write!(
                f,
                "the daemon panicked before it was ready (exit status {status}): {message}"
            ),
            Error::Exited {
                status,
                cause: Some(Cause::NotReady(reason)),
            } => write!(
                f,
                "the daemon exited with status {status} before it was ready: {reason}"
            ),
            Error::Exited {
                status,
                cause: None,
            } => {
                write!(
                    f,
                    "the daemon exited with status {status} before it was ready"
                )
            }
            Error::Killed {
                signal,
                cause: Some(Cause::Panicked(message)),
            } => write!(
                f,
                "the daemon panicked before it was ready (killed by {signal}): {message}"
            ),
            Error::Killed {
                signal,
                cause: Some(Cause::NotReady(reason)),
            } => write!(
                f,
                "the daemon was killed by {signal} before it was ready: {reason}"
            ),
            Error::Killed {
                signal,
                cause: None,
            } => {
                write!(f, "the daemon was killed by {signal} before it was ready")
            }
            Error::ReadyTimeout {
                timeout,
                stopped: true,
            } => write!(
                f,
                "the daemon was not ready after {}s, so it was stopped",
                timeout.as_secs_f64()
            ),
            Error::ReadyTimeout {
                timeout,
                stopped: false,
            } => write!(
                f,
                "the daemon was not ready after {}s, and it could not be stopped",
                timeout.as_secs_f64()
            ),
            Error::Vanished => write!(f, "the daemon exited before it reported back"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::CurrentDir(e)
            | Error::CountThreads(e)
            | Error::Pipe(e)
            | Error::NotifySocket { source: e, .. }
            | Error::Fork(e)
            | Error::Setsid(e)
            | Error::DevNull(e)
            | Error::CloseFds(e)
            | Error::Signals(e)
            | Error::Workdir { source: e, .. }
            | Error::Stdout { source: e, .. }
            | Error::Stderr { source: e, .. }
            | Error::Pidfile { source: e, .. }
            | Error::Lookup { source: e, .. }
            | Error::Chroot { source: e, .. }
            | Error::Setgroups(e)
            | Error::Setgid { source: e, .. }
            | Error::Setuid { source: e, .. }
            | Error::Signal { source: e, .. }
            | Error::Spawn { source: e, .. }
            | Error::Listener { source: e, .. }
            | Error::Report { source: e, .. } => Some(e),
            Error::Umask { .. }
            | Error::EmptyPath { .. }
            | Error::NulByte { .. }
            | Error::UnknownCommand { .. }
            | Error::NoPidfile
            | Error::NotRunning
            | Error::UpgradeRunning
            | Error::UpgradeUnderInit
            | Error::NotUpgraded { .. }
            | Error::HandOver { .. }
            | Error::SignalNotHandled { .. }
            | Error::ExitedWithoutSuccessor { .. }
            | Error::LockKept { .. }
            | Error::NotHolder { .. }
            | Error::StillAlive { .. }
            | Error::Unsupported { .. }
            | Error::ExitedWithoutStatus { .. }
            | Error::LogSymlink { .. }
            | Error::Threaded { .. }
            | Error::AlreadyRunning { .. }
            | Error::PidfileUnsafe { .. }
            | Error::UnknownUser { .. }
            | Error::UnknownGroup { .. }
            | Error::NotRoot { .. }
            | Error::KeepFd { .. }
            | Error::RegainedRoot { .. }
            | Error::Exited { .. }
            | Error::Killed { .. }
            | Error::ReadyTimeout { .. }
            | Error::Vanished => None,
        }
    }
}

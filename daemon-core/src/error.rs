//! The typed error of a detach: which step failed, on what, and the OS error.
//!
//! The steps that run after the first fork travel the report pipe as a wire
//! code, an errno, a number and a path. One table, [`steps!`], gives each
//! such step its code and its `Display` prefix: adding a step is its variant
//! here and its row there.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why the daemon could not be started, controlled or upgraded.
///
/// Each variant names the step that failed. Its `Display` is the one line the
/// launcher prints after `daemonic: `, for example
/// `workdir /nope: No such file or directory`. An OS error is carried as its
/// errno, an `i32` (see [`Error::raw_os_error`]), and a signal as its number:
/// no type of another crate is part of this one's API. `Display` prints the
/// OS error's text, so no variant has a [`source`](std::error::Error::source)
/// that a chain printer would print a second time.
///
/// The variants are in the order of the phases: configuration, the start,
/// control commands, upgrades, and the daemon's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    // --- Configuration: the options, checked before anything is done. ---
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
    /// A `keep_fds` entry that cannot be kept.
    KeepFd {
        /// The fd.
        fd: i32,
        /// Why it cannot be kept.
        reason: &'static str,
    },
    /// `control` gave a word that is not a command.
    UnknownCommand {
        /// The word.
        word: String,
    },
    /// A command that acts on the running daemon, without a pidfile to find it by.
    NoPidfile,
    /// Something this OS does not have was asked for.
    Unsupported {
        /// What, as the message names it.
        what: &'static str,
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
        errno: i32,
    },
    /// A change of user or group was asked for, but the process is not root.
    NotRoot {
        /// What was asked for: `user NAME` or `group NAME`.
        account: String,
        /// The effective uid the process runs as.
        euid: u32,
    },
    /// The current directory, needed to resolve a relative path, is unreadable.
    CurrentDir(i32),

    // --- The start: the launcher's checks, the forks, the daemon's steps. ---
    /// The thread count could not be read (`/proc/self/status` on Linux),
    /// so the thread check cannot be made.
    CountThreads(i32),
    /// The process already runs more than one thread, so forking it is unsafe.
    Threaded {
        /// How many threads `/proc/self/status` counted.
        threads: usize,
    },
    /// The pipe that carries the outcome back to the launcher.
    Pipe(i32),
    /// systemd's notify socket, named by `NOTIFY_SOCKET`, could not be reached.
    NotifySocket {
        /// The socket's address, as `NOTIFY_SOCKET` gives it.
        address: std::ffi::OsString,
        /// The OS error.
        errno: i32,
    },
    /// The pidfile is a symbolic link, or lies in a directory that others may
    /// write without the sticky bit, where anyone could replace it.
    PidfileUnsafe {
        /// The pidfile, made absolute.
        path: PathBuf,
        /// Why it is refused.
        reason: String,
    },
    /// The pidfile could not be opened, locked or written.
    Pidfile {
        /// The pidfile, made absolute.
        path: PathBuf,
        /// The OS error.
        errno: i32,
    },
    /// Another process holds the pidfile's lock.
    AlreadyRunning {
        /// The pidfile, made absolute.
        path: PathBuf,
        /// The pid written in the pidfile, when it could be read.
        pid: Option<u32>,
    },
    /// `fork` failed.
    Fork(i32),
    /// `setsid` failed.
    Setsid(i32),
    /// `chdir` to the working directory failed.
    Workdir {
        /// The directory, made absolute.
        path: PathBuf,
        /// The OS error.
        errno: i32,
    },
    /// `/dev/null` could not be opened or put on stdin, stdout or stderr.
    DevNull(i32),
    /// The stdout log file could not be opened or put on fd 1.
    Stdout {
        /// The log file, made absolute.
        path: PathBuf,
        /// The OS error.
        errno: i32,
    },
    /// The stderr log file could not be opened or put on fd 2.
    Stderr {
        /// The log file, made absolute.
        path: PathBuf,
        /// The OS error.
        errno: i32,
    },
    /// A log file path is a symbolic link, refused: in a directory the
    /// daemon's user may write, it could point the daemon's output anywhere.
    LogSymlink {
        /// `stdout` or `stderr`.
        stream: &'static str,
        /// The log file, made absolute.
        path: PathBuf,
    },
    /// Closing the inherited file descriptors failed.
    CloseFds(i32),
    /// The signal mask could not be cleared.
    Signals(i32),
    /// `chroot` failed.
    Chroot {
        /// The new root, made absolute.
        path: PathBuf,
        /// The OS error.
        errno: i32,
    },
    /// `setgroups` failed.
    Setgroups(i32),
    /// `setgid` failed.
    Setgid {
        /// The gid asked for.
        gid: u32,
        /// The OS error.
        errno: i32,
    },
    /// `setuid` failed.
    Setuid {
        /// The uid asked for.
        uid: u32,
        /// The OS error.
        errno: i32,
    },
    /// After the switch to `uid`, `setuid(0)` succeeded: root was not dropped.
    RegainedRoot {
        /// The uid switched to.
        uid: u32,
    },
    /// A socket that `LISTEN_FDS` announced is not an open fd here.
    Listener {
        /// The fd.
        fd: i32,
        /// The OS error.
        errno: i32,
    },

    // --- Control: status, stop, reload, and the signals they send. ---
    /// The daemon does not run: nothing to signal.
    NotRunning,
    /// The pidfile is locked, but the pid it names is not to be signalled:
    /// that process does not hold the file, or the file's owner could not
    /// signal it. Nothing was signalled.
    NotHolder {
        /// The pidfile.
        path: PathBuf,
        /// The pid it names.
        pid: u32,
        /// Why that process is not believed.
        reason: String,
    },
    /// The daemon neither catches, blocks nor ignores the signal a command
    /// would send it, so it would die of it: nothing was sent (Linux, where
    /// `/proc/<pid>/status` says so).
    SignalNotHandled {
        /// The daemon's pid.
        pid: u32,
        /// The signal's number.
        signal: i32,
        /// The option that chose it: `reload_signal` or `upgrade_signal`.
        option: &'static str,
    },
    /// A signal could not be sent.
    Signal {
        /// To whom.
        pid: u32,
        /// The OS error: EPERM when not allowed.
        errno: i32,
    },
    /// `stop` sent SIGKILL, and the process still ran.
    StillAlive {
        /// Its pid.
        pid: u32,
    },
    /// `stop` saw the daemon exit, but another process that the pidfile
    /// does not name kept its lock (a child it left behind, say).
    LockKept {
        /// The daemon that exited.
        pid: u32,
        /// The pidfile.
        path: PathBuf,
    },

    // --- Upgrades: the request, the new process, the hand-over. ---
    /// An upgrade is already running.
    UpgradeRunning,
    /// An upgrade was asked of a program that runs under its own init, as
    /// PID 1 of a container.
    UpgradeUnderInit,
    /// The new process of an upgrade could not be started.
    Spawn {
        /// The binary.
        path: PathBuf,
        /// The OS error.
        errno: i32,
    },
    /// The fds an upgrade handed to this process are not as announced.
    HandOver {
        /// What is wrong.
        reason: String,
    },
    /// `upgrade` signalled the daemon, and no new process held the pidfile
    /// by the timeout.
    NotUpgraded {
        /// The daemon signalled.
        pid: u32,
        /// How long it waited.
        timeout: Duration,
    },
    /// `upgrade` signalled the daemon, and it exited with no new process
    /// holding the pidfile.
    ExitedWithoutSuccessor {
        /// The daemon signalled.
        pid: u32,
    },

    // --- The outcome: how a daemon that never became ready ended. ---
    /// The daemon exited before it was ready.
    Exited {
        /// Its exit status.
        status: i32,
        /// What it said of its end, if anything.
        cause: Option<Cause>,
    },
    /// The daemon was killed by a signal before it was ready.
    Killed {
        /// The signal's number.
        signal: i32,
        /// What it said of its end, if anything: a panic that raised the
        /// signal, with `panic = "abort"`, say.
        cause: Option<Cause>,
    },
    /// The daemon ended before it was ready, and how is not this process's
    /// to know: on macOS, which has no subreaper, the launcher watches the
    /// daemon's pid but cannot read its exit status.
    ExitedWithoutStatus {
        /// What it said of its end, if anything.
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
    /// Reading the daemon's reports failed: a `poll` or `read` error on the
    /// pipe, not a word about the daemon, which was stopped.
    Report {
        /// The OS error.
        errno: i32,
        /// Whether the daemon was seen to end; if not, its pidfile is left.
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

/// A step's failure as it travels the report pipe: its code, its errno, a
/// number (a uid, a gid, which stream) and a path, any of them unused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wire {
    pub(crate) code: u8,
    pub(crate) errno: i32,
    pub(crate) number: u32,
    pub(crate) path: PathBuf,
}

/// The two steps whose line is not "prefix, value, OS error".
const REGAINED_ROOT: u8 = 14;
const LOG_SYMLINK: u8 = 15;

/// The table of steps: each row is a wire code, the variant, and the
/// `Display` prefix of its line. `errno` rows print `PREFIX: OS error`,
/// `path` rows `PREFIX PATH: OS error`, `number` rows `PREFIX N: OS error`.
/// The codes of the steps that run after the first fork are the protocol
/// between a daemon and a launcher of the same build; a code is never reused.
macro_rules! steps {
    (
        errno { $($e_code:literal => $e_step:ident, $e_prefix:literal;)* }
        path { $($p_code:literal => $p_step:ident, $p_prefix:literal;)* }
        number { $($n_code:literal => $n_step:ident { $n_field:ident }, $n_prefix:literal;)* }
    ) => {
        /// Every wire code, for the round-trip test.
        #[cfg(test)]
        pub(crate) const WIRE_CODES: &[u8] =
            &[$($e_code,)* $($p_code,)* $($n_code,)* REGAINED_ROOT, LOG_SYMLINK];

        impl Error {
            /// The failure as the daemon sends it, or `None` for an error
            /// that is not a step's (raised in the launcher only).
            pub(crate) fn to_wire(&self) -> Option<Wire> {
                let (code, errno, number, path) = match self {
                    $(Error::$e_step(errno) => ($e_code, *errno, 0, None),)*
                    $(Error::$p_step { path, errno } => ($p_code, *errno, 0, Some(path)),)*
                    $(Error::$n_step { $n_field, errno } => ($n_code, *errno, *$n_field, None),)*
                    Error::RegainedRoot { uid } => (REGAINED_ROOT, 0, *uid, None),
                    Error::LogSymlink { stream, path } => {
                        (LOG_SYMLINK, 0, u32::from(*stream == "stderr"), Some(path))
                    }
                    _ => return None,
                };
                let path = path.cloned().unwrap_or_default();
                Some(Wire { code, errno, number, path })
            }

            /// The failure the launcher rebuilds from what the daemon sent.
            pub(crate) fn from_wire(wire: Wire) -> Option<Error> {
                let Wire { code, errno, number, path } = wire;
                Some(match code {
                    $($e_code => Error::$e_step(errno),)*
                    $($p_code => Error::$p_step { path, errno },)*
                    $($n_code => Error::$n_step { $n_field: number, errno },)*
                    REGAINED_ROOT => Error::RegainedRoot { uid: number },
                    LOG_SYMLINK => Error::LogSymlink {
                        stream: if number == 1 { "stderr" } else { "stdout" },
                        path,
                    },
                    _ => return None,
                })
            }

            /// The line of a step in the table, or `None` for any other error.
            fn fmt_step(&self, f: &mut fmt::Formatter<'_>) -> Option<fmt::Result> {
                Some(match self {
                    $(Error::$e_step(errno) => write!(f, "{}: {}", $e_prefix, os_text(*errno)),)*
                    $(Error::$p_step { path, errno } => {
                        write!(f, "{} {}: {}", $p_prefix, path.display(), os_text(*errno))
                    })*
                    $(Error::$n_step { $n_field, errno } => {
                        write!(f, "{} {}: {}", $n_prefix, $n_field, os_text(*errno))
                    })*
                    _ => return None,
                })
            }

            /// The errno of a step in the table.
            fn step_errno(&self) -> Option<i32> {
                match self {
                    $(Error::$e_step(errno))|*
                    | $(Error::$p_step { errno, .. })|*
                    | $(Error::$n_step { errno, .. })|* => Some(*errno),
                    _ => None,
                }
            }
        }
    };
}

steps! {
    errno {
        0 => Fork, "fork";
        1 => Setsid, "setsid";
        3 => DevNull, "stdio /dev/null";
        6 => CloseFds, "closing inherited fds";
        7 => Signals, "signal mask";
        9 => Pipe, "pipe to the launcher";
        11 => Setgroups, "setgroups";
        16 => CurrentDir, "current directory, needed to resolve relative paths";
    }
    path {
        2 => Workdir, "workdir";
        4 => Stdout, "stdout";
        5 => Stderr, "stderr";
        8 => Pidfile, "pidfile";
        10 => Chroot, "chroot";
        17 => Spawn, "upgrade:";
    }
    number {
        12 => Setgid { gid }, "setgid";
        13 => Setuid { uid }, "setuid";
        18 => Signal { pid }, "signal to pid";
    }
}

/// The OS's text for an errno, without std's " (os error N)" suffix: the
/// line names the step, and the text is what a person acts on.
pub(crate) fn os_text(errno: i32) -> &'static str {
    nix::errno::Errno::from_raw(errno).desc()
}

/// A signal's name, `SIGTERM`, or `signal N` for a number this OS does not name.
pub(crate) fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map_or_else(|_| format!("signal {signal}"), |s| s.as_str().to_owned())
}

impl Error {
    /// The OS error this failure carries, as its errno, like
    /// [`std::io::Error::raw_os_error`]; `None` when the failure is not an
    /// OS error (a refused path, a daemon that exited, ...).
    /// `std::io::Error::from_raw_os_error` turns it into an `io::Error`.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.step_errno().or(match self {
            Error::Lookup { errno, .. }
            | Error::NotifySocket { errno, .. }
            | Error::Listener { errno, .. }
            | Error::Report { errno, .. }
            | Error::CountThreads(errno) => Some(*errno),
            _ => None,
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(result) = self.fmt_step(f) {
            return result;
        }
        match self {
            Error::Umask { umask } => {
                write!(f, "umask {umask:#o}: out of range, the largest is 0o777")
            }
            Error::EmptyPath { option } => write!(f, "{option}: the path is empty"),
            Error::NulByte { option, value } => {
                write!(f, "{option} {value:?}: contains a NUL byte")
            }
            Error::KeepFd { fd, reason } => write!(f, "keep_fds: fd {fd} {reason}"),
            Error::UnknownCommand { word } => {
                write!(f, "unknown command {word:?}; the commands are ")?;
                crate::control::Control::write_list(f)
            }
            Error::NoPidfile => {
                crate::control::Control::write_acting_list(f)?;
                write!(f, " need a pidfile, to find the daemon by")
            }
            Error::Unsupported { what } => {
                write!(f, "{what} is not supported on {}", std::env::consts::OS)
            }
            Error::UnknownUser { user } => write!(f, "user {user}: no such user"),
            Error::UnknownGroup { group } => write!(f, "group {group}: no such group"),
            Error::Lookup { account, errno } => {
                write!(f, "looking up {account}: {}", os_text(*errno))
            }
            Error::NotRoot { account, euid } => write!(
                f,
                "{account}: changing user or group needs root, and this runs as uid {euid}"
            ),
            Error::CountThreads(errno) => write!(
                f,
                "thread check: {}; refusing to fork without it",
                os_text(*errno)
            ),
            Error::Threaded { threads } => write!(
                f,
                "refusing to fork: the process already runs {threads} threads; \
                 detach before any thread or async runtime starts"
            ),
            Error::NotifySocket { address, errno } => write!(
                f,
                "NOTIFY_SOCKET {}: {}",
                Path::new(address).display(),
                os_text(*errno)
            ),
            Error::PidfileUnsafe { path, reason } => {
                write!(f, "pidfile {}: refused, {reason}", path.display())
            }
            Error::AlreadyRunning { path, pid } => match pid {
                Some(pid) => write!(f, "pidfile {}: already running (pid {pid})", path.display()),
                None => write!(
                    f,
                    "pidfile {}: already running (pid unknown)",
                    path.display()
                ),
            },
            Error::LogSymlink { stream, path } => write!(
                f,
                "{stream} {}: refused, it is a symbolic link",
                path.display()
            ),
            Error::RegainedRoot { uid } => write!(
                f,
                "setuid {uid}: root could be regained afterwards, so the drop is refused"
            ),
            Error::Listener { fd, errno } => {
                write!(f, "listener fd {fd} (LISTEN_FDS): {}", os_text(*errno))
            }
            Error::NotRunning => write!(f, "not running"),
            Error::NotHolder { path, pid, reason } => write!(
                f,
                "pidfile {}: names pid {pid}, {reason}; nothing was signalled",
                path.display()
            ),
            Error::SignalNotHandled {
                pid,
                signal,
                option,
            } => {
                let name = signal_name(*signal);
                write!(
                    f,
                    "pid {pid} neither catches, blocks nor ignores {name}, and would die of it; \
                     nothing was sent: handle {name} in the daemon, or set {option}"
                )
            }
            Error::StillAlive { pid } => write!(f, "pid {pid} still runs after SIGKILL"),
            Error::LockKept { pid, path } => write!(
                f,
                "pid {pid} exited, but another process still holds {} locked: a child it left \
                 behind, say",
                path.display()
            ),
            Error::UpgradeRunning => write!(f, "upgrade: another upgrade is running"),
            Error::UpgradeUnderInit => write!(
                f,
                "upgrade: this program runs as PID 1 of its container, under its own init; roll \
                 out a new version through the orchestrator instead"
            ),
            Error::HandOver { reason } => write!(f, "upgrade hand-over: {reason}"),
            Error::NotUpgraded { pid, timeout } => write!(
                f,
                "upgrade: pid {pid} was signalled, and no new process held the pidfile after {}s",
                timeout.as_secs_f64()
            ),
            Error::ExitedWithoutSuccessor { pid } => write!(
                f,
                "upgrade: pid {pid} exited, and no new process took the pidfile over"
            ),
            Error::Exited { status, cause } => match cause {
                Some(Cause::Panicked(message)) => write!(
                    f,
                    "the daemon panicked before it was ready (exit status {status}): {message}"
                ),
                Some(Cause::NotReady(reason)) => write!(
                    f,
                    "the daemon exited with status {status} before it was ready: {reason}"
                ),
                None => write!(
                    f,
                    "the daemon exited with status {status} before it was ready"
                ),
            },
            Error::Killed { signal, cause } => {
                let signal = signal_name(*signal);
                match cause {
                    Some(Cause::Panicked(message)) => write!(
                        f,
                        "the daemon panicked before it was ready (killed by {signal}): {message}"
                    ),
                    Some(Cause::NotReady(reason)) => write!(
                        f,
                        "the daemon was killed by {signal} before it was ready: {reason}"
                    ),
                    None => write!(f, "the daemon was killed by {signal} before it was ready"),
                }
            }
            Error::ExitedWithoutStatus { cause } => match cause {
                None => write!(f, "the daemon exited before it was ready"),
                Some(Cause::Panicked(message)) => {
                    write!(f, "the daemon panicked before it was ready: {message}")
                }
                Some(Cause::NotReady(reason)) => {
                    write!(f, "the daemon exited before it was ready: {reason}")
                }
            },
            Error::ReadyTimeout { timeout, stopped } => write!(
                f,
                "the daemon was not ready after {}s, {}",
                timeout.as_secs_f64(),
                if *stopped {
                    "so it was stopped"
                } else {
                    "and it could not be stopped"
                }
            ),
            Error::Report { errno, stopped } => write!(
                f,
                "reading the daemon's reports: {}; {}",
                os_text(*errno),
                if *stopped {
                    "the daemon was stopped"
                } else {
                    "the daemon could not be stopped, and keeps its pidfile"
                }
            ),
            Error::Vanished => write!(f, "the daemon exited before it reported back"),
            // The steps of the table, written by `fmt_step` above.
            Error::Fork(_)
            | Error::Setsid(_)
            | Error::DevNull(_)
            | Error::CloseFds(_)
            | Error::Signals(_)
            | Error::Pipe(_)
            | Error::Setgroups(_)
            | Error::CurrentDir(_)
            | Error::Workdir { .. }
            | Error::Stdout { .. }
            | Error::Stderr { .. }
            | Error::Pidfile { .. }
            | Error::Chroot { .. }
            | Error::Spawn { .. }
            | Error::Setgid { .. }
            | Error::Setuid { .. }
            | Error::Signal { .. } => Ok(()),
        }
    }
}

/// `Display` already prints the OS error's text: no `source()`, so that a
/// chain printer (anyhow's `{:#}`) does not print it twice.
impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wire_code_round_trips_and_prints_its_step() {
        for &code in WIRE_CODES {
            let wire = Wire {
                code,
                errno: libc_enoent(),
                number: 1,
                path: PathBuf::from("/some dir/app.pid"),
            };
            let error = Error::from_wire(wire.clone()).expect("a known code");
            let back = error.to_wire().expect("a step");
            assert_eq!(back.code, code);
            assert_eq!(Error::from_wire(back), Some(error.clone()));
            let line = error.to_string();
            assert!(!line.is_empty(), "code {code} prints nothing");
            if error.raw_os_error().is_some() {
                assert!(line.ends_with("No such file or directory"), "{line}");
            }
        }
        let mut codes = WIRE_CODES.to_vec();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), WIRE_CODES.len(), "a wire code is used twice");
    }

    #[test]
    fn a_step_line_is_its_prefix_its_value_and_the_os_text() {
        let path = PathBuf::from("/nope");
        assert_eq!(
            Error::Workdir { path, errno: 2 }.to_string(),
            "workdir /nope: No such file or directory"
        );
        assert_eq!(
            Error::Setsid(1).to_string(),
            "setsid: Operation not permitted"
        );
        assert_eq!(
            Error::Setuid {
                uid: 65534,
                errno: 1
            }
            .to_string(),
            "setuid 65534: Operation not permitted"
        );
        assert_eq!(
            Error::Setuid {
                uid: 65534,
                errno: 1
            }
            .raw_os_error(),
            Some(1)
        );
        assert_eq!(Error::NotRunning.raw_os_error(), None);
        let broken = Error::Report {
            errno: 5,
            stopped: true,
        };
        assert_eq!(broken.raw_os_error(), Some(5));
        assert_eq!(Error::CountThreads(13).raw_os_error(), Some(13));
        let killed = Error::Killed {
            signal: nix::libc::SIGKILL,
            cause: None,
        };
        assert_eq!(
            killed.to_string(),
            "the daemon was killed by SIGKILL before it was ready"
        );
        assert_eq!(signal_name(nix::libc::SIGUSR1), "SIGUSR1");
        assert_eq!(signal_name(200), "signal 200");
        // The lists of commands, from `Control::ALL`.
        assert_eq!(
            Error::NoPidfile.to_string(),
            "stop, status, reload, restart and upgrade need a pidfile, to find the daemon by"
        );
        let unknown = Error::UnknownCommand {
            word: "strat".to_owned(),
        };
        assert_eq!(
            unknown.to_string(),
            "unknown command \"strat\"; the commands are start, stop, status, reload, restart \
             and upgrade"
        );
        assert!(std::error::Error::source(&Error::Fork(11)).is_none());
    }

    fn libc_enoent() -> i32 {
        nix::libc::ENOENT
    }
}

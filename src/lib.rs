//! Make a Unix daemon correctly, with one attribute on `fn main`.
//!
//! ```no_run
//! #[daemonic::daemon(umask = 0o027, workdir = "/", pidfile = "/tmp/app.pid")]
//! fn main() {
//!     // Detached: a new session, no terminal, stdio on /dev/null, every
//!     // inherited fd closed, the pidfile locked for the daemon's life.
//! }
//! ```
//!
//! The attribute goes on the program's entry point, the `fn main` at the
//! crate root, and runs the detach as its first statement, before any
//! thread or async runtime exists: `fork` copies only the calling thread, so a
//! threaded process is refused. The sequence is the classic one: fork,
//! `setsid`, fork again, `umask`, stdio, close every other fd, `chroot`, `chdir`,
//! reset signals, write the pidfile, change user; see [`Daemon`].
//!
//! # The order with tokio
//!
//! Put `#[daemon]` **above** `#[tokio::main]` (or any runtime attribute whose
//! path ends in `main`, such as `#[async_std::main]`). The async main moves
//! into an inner function that keeps its attributes (lint levels are copied
//! to the outer `main` too), so the runtime is built in the daemon, after the
//! detach:
//!
//! ```no_run
//! #[daemonic::daemon(pidfile = "/tmp/app.pid")]
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     Ok(())
//! }
//! ```
//!
//! The other order also works (tokio has already made `main` synchronous, and
//! the detach is still its first statement). An `async fn main` with no
//! runtime attribute below `#[daemon]` is a compile error.
//!
//! # Options
//!
//! Every value is a literal or any Rust expression, but for `ready` and
//! `crate`, which are literals only. A literal is checked at compile time.
//! An expression is evaluated at the start of `main`, in the launcher,
//! before the first fork, in the order written; it may read the arguments or
//! the environment, and what it prints reaches the terminal. An fd it leaves
//! open, in a static say, is closed by the detach unless it is listed in
//! `keep_fds`, so the object that owns it must not be used afterwards (the
//! contract of [`Daemon::start`]).
//!
//! | option | type | default | meaning |
//! |---|---|---|---|
//! | `umask` | `u32`, at most `0o777` | `0o022` ([`DEFAULT_UMASK`]) | the daemon's umask |
//! | `workdir` | a path (`impl Into<PathBuf>`) | `/` | its working directory, a path inside `chroot` if set |
//! | `pidfile` | a path | none | locked before the first fork, written with the daemon's pid, removed when `main` returns if the daemon's user may |
//! | `stdout` | a path | `/dev/null` | appended to (ignored in the foreground); see [`reopen_logs`] |
//! | `stderr` | a path | `/dev/null` | appended to (ignored in the foreground); see [`reopen_logs`] |
//! | `ready` | `"start"` or `"notify"`, a literal only | `"start"` | when the launcher exits 0: when `main` starts, or at [`ready()`] ([`Readiness`]) |
//! | `ready_timeout` | seconds, any number type, above zero | `90` ([`DEFAULT_READY_TIMEOUT`]) | past it the launcher stops the daemon and fails |
//! | `enable` | `bool` | `true` | `false` stays in the foreground |
//! | `user` | a name or a uid ([`Account`]) | unchanged | needs root; by name, with its supplementary groups |
//! | `group` | a name or a gid ([`Account`]) | the user's primary group | needs root |
//! | `chroot` | a path | none | entered before `workdir`, after the log files are opened; needs root |
//! | `keep_fds` | `impl IntoIterator<Item = RawFd>`, each open and above 2 | none | fds kept open through the detach |
//! | `control` | a command ([`IntoControl`]: `Option<String>`, `&str`, [`Control`], ...); needs `pidfile` | `start` | evaluated first; `stop`, `status` and `reload` print one line and exit with the LSB code, `restart` stops and then starts |
//! | `stop_timeout` | seconds, any number type, above zero | `10` ([`DEFAULT_STOP_TIMEOUT`]) | how long `stop` waits after SIGTERM before SIGKILL |
//! | `reload_signal` | a signal's name in a string, or its number | `"SIGHUP"` | what `reload` sends |
//! | `crate` | a path in a string | `"::daemonic"` | where the expansion finds this crate |
//!
//! Relative paths are resolved against the launcher's working directory.
//!
//! # The launcher, and what happens on error
//!
//! The process you start becomes the launcher. It waits until the daemon
//! reports, then exits 0. If any step fails, in the launcher or in the
//! daemon, it prints one line naming the step and the OS error, such as
//! `daemonic: workdir /nope: No such file or directory`, and exits 1; the
//! daemon has exited and the pidfile is removed (unless a late daemon could
//! not be seen to stop: then it says so and leaves the pidfile to it). A second start prints
//! `daemonic: pidfile /tmp/app.pid: already running (pid 4242)`. The line is
//! the [`Display`](std::fmt::Display) of an [`Error`].
//!
//! With `ready = "notify"`, the launcher waits for [`ready()`] and prints each
//! [`status()`] line on its stdout meanwhile. A daemon that exits, panics or
//! is killed first is reported with its status, panic message or signal, and
//! with the error `main` returned or the reason given to [`not_ready()`]; one
//! that misses `ready_timeout` is stopped (SIGTERM, then SIGKILL), with its
//! process group.
//!
//! # Foreground and systemd
//!
//! The process does not fork when `enable` is false, when the environment
//! has `DAEMONIC_FOREGROUND=1` ([`FOREGROUND_ENV`]), for debugging, or when
//! systemd started it as a `Type=notify` service (`NOTIFY_SOCKET` is set);
//! then [`ready()`] sends `READY=1` and [`status()`] `STATUS=...`, through
//! the socket connected at the start (so a `chroot` does not cut it off),
//! and `NOTIFY_SOCKET` is removed from the environment of a single-threaded
//! process. In the
//! foreground the pidfile is still locked and written, and `chroot` (with
//! the `chdir` into it), `user` and `group` still apply; nothing else
//! changes: session, terminal, cwd, umask, stdio, fds and signals.
//!
//! # Logs and SIGHUP
//!
//! The daemon has no terminal, so SIGHUP is free to mean "reload", as for
//! nginx and sshd. Call [`reopen_logs`] on it, after logrotate has moved the
//! `stdout`/`stderr` files: the next line starts a new file at the old path.
//!
//! # Control
//!
//! With `control = std::env::args().nth(1)`, the same binary is its own
//! `start|stop|status|reload|restart`. Who runs is decided by the pidfile's
//! lock; the pid is pinned (a pidfd, or a kqueue watch) before the file is
//! checked again, and its holder checked, so a reused pid or a lying daemon
//! is never signalled. See [`Daemon::status`], [`Daemon::stop`] and the README.
//!
//! # Sockets and upgrades
//!
//! [`listeners()`] returns the sockets handed down by systemd's socket
//! activation or by an upgrade; [`upgrade()`] starts the binary again, hands
//! it the listeners and the locked pidfile, and returns once it is ready.
//!
//! # Without the attribute
//!
//! [`Daemon`] is the same sequence as a builder, and [`Daemon::start`]
//! returns the typed [`Error`] in the launcher.
#![deny(missing_docs)]

pub use daemonic_core::{
    listeners, not_ready, ready, reopen_logs, signal_number, status, upgrade,
    Account, Cause, Control, Daemon, Detached, Error, IntoControl, Readiness, Status, Stopped,
    DEFAULT_READY_TIMEOUT, DEFAULT_RELOAD_SIGNAL, DEFAULT_STOP_TIMEOUT, DEFAULT_UMASK,
    DEFAULT_UPGRADE_SIGNAL, FOREGROUND_ENV, INIT_ENV,
};
pub use daemonic_macro::daemon;

#[doc(hidden)]
pub use daemonic_core::__testing;

/// What the attribute's expansion calls. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use daemonic_core::{Account, Control, Daemon, Readiness};
    use daemonic_core::{Error, IntoControl, Stopped};

    /// `ready_timeout`'s or `stop_timeout`'s seconds, or the launcher's one
    /// line when they are not a duration above zero (zero, negative, NaN or
    /// infinite).
    pub fn seconds(option: &str, seconds: f64) -> std::time::Duration {
        match std::time::Duration::try_from_secs_f64(seconds) {
            Ok(duration) if !duration.is_zero() => duration,
            _ => {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "daemonic: {option} {seconds}: not a number of seconds above zero"
                );
                std::process::exit(1)
            }
        }
    }

    /// `reload_signal`'s number, from a name checked at compile time.
    pub fn signal(name: &str) -> i32 {
        daemonic_core::signal_number(name).unwrap_or_else(|| {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "daemonic: reload_signal {name:?}: no such signal"
            );
            std::process::exit(1)
        })
    }

    /// The `control` option's command, evaluated before anything else.
    pub fn command(value: impl IntoControl) -> Result<Control, Error> {
        value.into_control()
    }

    /// One line on stdout. Never a panic: with stdout gone (a closed pipe,
    /// a terminal hung up), the exit status is what the caller reads.
    fn say(line: impl std::fmt::Display) {
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), "{line}");
    }

    /// `daemonic: ERROR` on stderr, then `code`; never a panic either.
    fn fail(error: Error, code: i32) -> ! {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "daemonic: {error}");
        std::process::exit(code)
    }

    /// Runs the command: `stop`, `status` and `reload` print one line and
    /// exit with the LSB init-script code; `restart` stops, then starts;
    /// `start` detaches, or exits 0 when the daemon runs already. An
    /// unknown word exits 2.
    pub fn run(command: Result<Control, Error>, daemon: Daemon) -> daemonic_core::Detached {
        // Started by an upgrade: it takes over, whatever its arguments say
        // (`restart`, say, which would stop the very process handing over).
        if daemonic_core::is_hand_over() {
            return detach(daemon);
        }
        let command = command.unwrap_or_else(|error| fail(error, 2));
        let stopped = |daemon: &Daemon| match daemon.stop() {
            Ok(stopped) => stopped,
            Err(error @ (Error::StillAlive { .. } | Error::LockKept { .. })) => fail(error, 1),
            Err(error) => fail(error, 4),
        };
        // LSB: 3 is "unimplemented", here a signal the daemon does not handle.
        let refused = |error: Error| -> ! {
            match error {
                Error::NotRunning => {
                    say("not running");
                    std::process::exit(7)
                }
                error @ Error::SignalNotHandled { .. } => fail(error, 3),
                error @ (Error::NotUpgraded { .. } | Error::ExitedWithoutSuccessor { .. }) => {
                    fail(error, 1)
                }
                error => fail(error, 4),
            }
        };
        match command {
            Control::Start => start(daemon),
            Control::Status => match daemon.status() {
                Ok(status) => {
                    say(&status);
                    std::process::exit(status.exit_code())
                }
                Err(error) => fail(error, 4),
            },
            Control::Stop => {
                say(stopped(&daemon));
                std::process::exit(0)
            }
            Control::Reload => match daemon.reload() {
                Ok(pid) => {
                    say(format_args!("reloaded (pid {pid})"));
                    std::process::exit(0)
                }
                Err(error) => refused(error),
            },
            Control::Upgrade => match daemon.request_upgrade() {
                Ok((old, new)) => {
                    say(format_args!("upgraded (pid {old} to {new})"));
                    std::process::exit(0)
                }
                Err(error) => refused(error),
            },
            Control::Restart => {
                if let stopped @ (Stopped::Terminated { .. } | Stopped::Killed { .. }) =
                    stopped(&daemon)
                {
                    say(stopped);
                }
                start(daemon)
            }
        }
    }

    /// `start` under `control`: as LSB has it, a daemon already running is
    /// success, `already running (pid N)` and exit 0, and nothing starts.
    /// "Running" is `status`'s word for it, so a pidfile whose holder is
    /// not believed still fails the start.
    fn start(daemon: Daemon) -> daemonic_core::Detached {
        let again = daemon.clone();
        // SAFETY: as in `detach`.
        match unsafe { daemon.start() } {
            Ok(detached) => detached,
            Err(error @ Error::AlreadyRunning { .. }) => match again.status() {
                Ok(daemonic_core::Status::Running { pid }) => {
                    say(format_args!("already running (pid {pid})"));
                    std::process::exit(0)
                }
                _ => fail(error, 1),
            },
            Err(error) => fail(error, 1),
        }
    }

    /// What `main` returned, to be reported by [`ReportErr`] when it is a
    /// `Result`, and else by [`ReportNothing`]: the expansion calls
    /// `(&Returned(&result)).report()`, and method resolution takes the
    /// first without autoref, the second with it.
    pub struct Returned<'a, R>(pub &'a R);

    /// Sends an error `main` returned to whoever waits for the daemon to be
    /// ready, as std would print it.
    pub trait ReportErr {
        /// Reports the error, if it is one.
        fn report(&self);
    }

    impl<T, E: std::fmt::Debug> ReportErr for Returned<'_, Result<T, E>> {
        fn report(&self) {
            if let Err(error) = self.0 {
                crate::not_ready(format!("main returned Error: {error:?}"));
            }
        }
    }

    /// Any other return type (`()`, `ExitCode`, ...) has no error to report.
    pub trait ReportNothing {
        /// Does nothing.
        fn report(&self);
    }

    impl<R> ReportNothing for &Returned<'_, R> {
        fn report(&self) {}
    }

    /// Detaches, or ends the launcher with the error's one line.
    pub fn detach(daemon: Daemon) -> daemonic_core::Detached {
        // SAFETY: the first statement of `main`: the user's code has not run,
        // and the option values are consumed by the builder. A value that
        // leaves an fd owner behind (in a static) is ruled out by the
        // attribute's docs, as `Daemon::start` rules it out for its callers.
        unsafe { daemon.start() }.unwrap_or_else(|error| fail(error, 1))
    }
}

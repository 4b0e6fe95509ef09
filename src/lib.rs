//! Make a Unix daemon correctly, with one attribute on `fn main`.
//!
//! ```no_run
//! #[daemonic::daemon(umask = 0o027, workdir = "/", pidfile = "/tmp/app.pid")]
//! fn main() {
//!     // Detached: a new session, no terminal, stdio on /dev/null, the pidfile locked.
//! }
//! ```
//!
//! The attribute runs the detach as the first statement of `main`, before any
//! thread or async runtime exists, because `fork` copies only the calling
//! thread. With tokio, put `#[daemon]` above `#[tokio::main]`:
//!
//! ```no_run
//! #[daemonic::daemon(pidfile = "/tmp/app.pid")]
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     // The runtime was built after the detach.
//!     Ok(())
//! }
//! ```
//!
//! # Options
//!
//! Each value is a literal, checked at compile time, or any Rust expression,
//! evaluated at the start of `main` before the first fork.
//!
//! | option | type | default |
//! |---|---|---|
//! | `umask` | `u32`, at most `0o777` | `0o022` |
//! | `workdir` | a path (`impl Into<PathBuf>`) | `/` |
//! | `pidfile` | a path | none |
//! | `stdout` | a path, appended to | `/dev/null` |
//! | `stderr` | a path, appended to | `/dev/null` |
//! | `ready` | `"start"` or `"notify"`, a literal | `"start"` |
//! | `ready_timeout` | seconds, any number type | `90` |
//! | `enable` | `bool` | `true` |
//! | `user` | a name or a uid ([`Account`]); needs root | unchanged |
//! | `group` | a name or a gid | the user's primary group |
//! | `chroot` | a path, entered before `workdir` | none |
//! | `keep_fds` | `impl IntoIterator<Item = RawFd>`, each above 2 | none |
//! | `crate` | a path in a string | `"::daemonic"` |
//!
//! Relative paths are resolved against the launcher's working directory.
//!
//! # The launcher
//!
//! The process you start stays until the daemon reports back: it exits 0 once
//! the daemon reaches your `main`, or prints one line such as
//! `daemonic: workdir /nope: No such file or directory` and exits 1. No
//! process and no pidfile are left behind on failure.
//!
//! With `ready = "notify"`, the launcher instead waits for [`ready()`], prints
//! each [`status()`] line on its stdout meanwhile, and reports a daemon that
//! exits, panics, is killed or misses `ready_timeout` before it (a late daemon
//! is stopped).
//!
//! # Foreground and systemd
//!
//! The process stays in the foreground, unchanged but for its pidfile, when
//! `enable` is false, when `DAEMONIC_FOREGROUND=1` ([`FOREGROUND_ENV`]), or
//! under a systemd `Type=notify` unit (`NOTIFY_SOCKET` set), where [`ready()`]
//! sends `READY=1` and [`status()`] sends `STATUS=...`.
//!
//! Without the attribute, use [`Daemon`] directly.
#![deny(missing_docs)]

pub use daemonic_core::{
    close_fds_except, ready, reopen_logs, status, Account, Daemon, Detached, Error, Readiness,
    DEFAULT_READY_TIMEOUT, DEFAULT_UMASK, FOREGROUND_ENV,
};
pub use daemonic_macro::daemon;

/// What the attribute's expansion calls. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use daemonic_core::{Account, Daemon, Readiness};

    /// `ready_timeout`'s seconds, or the launcher's one line when they are
    /// not a duration above zero (zero, negative, NaN or infinite).
    pub fn seconds(seconds: f64) -> std::time::Duration {
        match std::time::Duration::try_from_secs_f64(seconds) {
            Ok(duration) if !duration.is_zero() => duration,
            _ => {
                eprintln!("daemonic: ready_timeout {seconds}: not a number of seconds above zero");
                std::process::exit(1)
            }
        }
    }

    /// Detaches, or ends the launcher with the error's one line.
    pub fn detach(daemon: Daemon) -> daemonic_core::Detached {
        daemon.start().unwrap_or_else(|error| {
            eprintln!("daemonic: {error}");
            std::process::exit(1)
        })
    }
}

//! The Unix detach sequence behind `daemonic`, usable without the attribute.
//!
//! [`Daemon`] runs the classic sequence: a thread check, a locked pidfile,
//! fork, `setsid`, a second fork, `umask`, stdio onto /dev/null or log files,
//! every other inherited fd closed, `chroot` if asked, `chdir`, signal
//! handlers and mask reset, the daemon's pid written, and the change of user
//! if asked. The launching process waits on a pipe until
//! the daemon reports, so it exits 0 only when the daemon runs, and otherwise
//! returns an [`Error`] that names the failed step and the OS error.
//!
//! Linux, FreeBSD and macOS, each by its own means (the `sys` module): see
//! the platforms section of `daemonic`'s documentation for what is
//! run-tested (Linux) and what is compile-checked (FreeBSD, macOS).
#![deny(missing_docs)]

#[doc(hidden)]
#[path = "attribute.rs"]
pub mod __attribute;
mod activation;
mod builder;
mod control;
mod detach;
mod error;
mod fds;
mod init;
mod launcher;
mod logs;
mod notify;
mod pidfile;
mod privileges;
mod report;
mod signals;
mod state;
mod sys;
mod timings;
mod upgrade;

pub use activation::listeners;
pub use builder::{Daemon, Readiness, DEFAULT_READY_TIMEOUT, DEFAULT_UMASK, FOREGROUND_ENV};
pub use control::{
    signal_number, Control, IntoControl, Status, Stopped, DEFAULT_RELOAD_SIGNAL,
    DEFAULT_STOP_TIMEOUT, DEFAULT_UPGRADE_SIGNAL,
};
pub use detach::Detached;
pub use error::{Cause, Error};
pub use init::INIT_ENV;
pub use logs::reopen_logs;
pub use notify::{not_ready, ready, status};
pub use privileges::Account;
pub use upgrade::upgrade;

/// Switches for the tests: make Linux take the portable fallbacks that only
/// FreeBSD or macOS would. Not public API.
#[doc(hidden)]
pub mod __testing {
    pub use crate::state::pause_hand_over;
    pub use crate::sys::{fallback, force_fallbacks};

    /// The detach's fd-closing step alone, for the launch bench.
    ///
    /// # Errors
    ///
    /// The errno of the `close_range` or `close` that failed.
    ///
    /// # Safety
    ///
    /// As the detach's own step: no Rust object may own an fd it closes.
    pub unsafe fn close_fds_except(keep: &[std::os::fd::RawFd]) -> Result<(), i32> {
        // SAFETY: the caller's contract, passed on.
        unsafe { crate::fds::close_fds_except(keep) }.map_err(|e| e as i32)
    }
}

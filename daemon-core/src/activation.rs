//! Sockets handed to this process by the `sd_listen_fds` protocol: from
//! systemd's socket activation, or from the daemon this one upgrades.
//!
//! `LISTEN_PID` must name this process (a hand-over from an upgrade names
//! none: it is marked by its own variable), `LISTEN_FDS` counts the fds from
//! 3, and `LISTEN_FDNAMES` names them. They are read at the start, while the
//! process has one thread, kept through the detach, and the variables are
//! removed; [`listeners`] hands the fds out.

use std::env;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::PoisonError;

use nix::errno::Errno;
use nix::libc;

use crate::state::PROCESS;
use crate::Error;

/// The first fd of the protocol.
const FIRST: RawFd = 3;

/// Set, with the other variables, on the process an upgrade starts.
pub(crate) const UPGRADE_ENV: &str = "DAEMONIC_UPGRADE";

/// Reads the variables, if they are this process's, and keeps their fds for
/// [`listeners`]: the fds that the detach must keep. Call it while the
/// process has one thread.
pub(crate) fn take_from_env(single_threaded: impl FnOnce() -> bool) -> Result<Vec<RawFd>, Error> {
    // Whoever runs a set-uid or set-gid binary writes its environment:
    // neither fds nor a hand-over are taken from it, and the variables go.
    if crate::sys::is_set_id() {
        if single_threaded() {
            for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", UPGRADE_ENV] {
                env::remove_var(name);
            }
        }
        return Ok(Vec::new());
    }
    let Some(count) = env::var_os("LISTEN_FDS") else {
        return Ok(Vec::new());
    };
    let count = count
        .to_str()
        .and_then(|n| n.parse::<RawFd>().ok())
        .unwrap_or(0);
    let ours = env::var_os(UPGRADE_ENV).is_some()
        || env::var("LISTEN_PID").is_ok_and(|pid| pid == std::process::id().to_string());
    let handed = if ours && count > 0 {
        take_fds(count)?
    } else {
        Vec::new()
    };
    // Read once, and gone whether they were this process's or not, as
    // `sd_listen_fds(1)` does: no program this one starts may take them
    // for its own (an upgrade that hands no socket leaves `LISTEN_FDS=0`).
    if single_threaded() {
        for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
            env::remove_var(name);
        }
    }
    let fds = handed.iter().map(|(_, fd)| *fd).collect();
    *PROCESS
        .listeners
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = handed;
    Ok(fds)
}

/// The `count` fds from 3, each made close-on-exec, with their names.
fn take_fds(count: RawFd) -> Result<Vec<(String, RawFd)>, Error> {
    let names = env::var("LISTEN_FDNAMES").unwrap_or_default();
    let mut names = names.split(':');
    let mut handed = Vec::new();
    for fd in FIRST..FIRST.saturating_add(count) {
        let name = names
            .next()
            .filter(|name| !name.is_empty())
            .unwrap_or("unknown");
        // An fd that is not open was not handed over after all.
        // SAFETY: F_SETFD only sets a flag on the number, open or not.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
            // A socket announced and not there: binding a fresh one instead
            // would serve on another address, or none.
            return Err(Error::Listener {
                fd,
                errno: Errno::last() as i32,
            });
        }
        handed.push((name.to_owned(), fd));
    }
    Ok(handed)
}

/// The sockets handed to this process, each with its name (`unknown` when
/// none was given), in the order given: by systemd's socket activation, or
/// by the daemon that this one upgrades ([`upgrade`](crate::upgrade)).
/// Empty when nothing was handed down, and on any call after the first,
/// which took them.
///
/// Each fd is close-on-exec. Turn one into a listener with
/// `std::net::TcpListener::from(fd)` (then `tokio::net::TcpListener::from_std`,
/// after `set_nonblocking(true)`), or `UnixListener::from(fd)`.
pub fn listeners() -> Vec<(String, OwnedFd)> {
    let handed = std::mem::take(
        &mut *PROCESS
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
    handed
        .into_iter()
        // SAFETY: each fd was handed to this process, kept through the
        // detach, and is given out once: the `take` above.
        .map(|(name, fd)| (name, unsafe { OwnedFd::from_raw_fd(fd) }))
        .collect()
}

//! The platform layer: one small interface, one file per OS behind it, so
//! that the detach sequence above reads the same everywhere.

use std::os::fd::BorrowedFd;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::*;

/// Writes `bytes` to `fd` only if it takes them now; for a notice that must
/// not hold up a process whose output nobody reads.
pub(crate) fn write_without_blocking(fd: BorrowedFd<'_>, bytes: &[u8]) {
    let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
    if poll(&mut fds, PollTimeout::ZERO).is_ok_and(|ready| ready > 0) {
        let _ = nix::unistd::write(fd, bytes);
    }
}

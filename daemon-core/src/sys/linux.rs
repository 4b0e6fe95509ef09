//! Linux: pidfds.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use nix::libc;
use nix::unistd::Pid;

/// An fd that polls readable once `pid` has exited: a pidfd (Linux 5.3).
pub(crate) fn exit_watch(pid: Pid) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags, and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the fd was just created, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

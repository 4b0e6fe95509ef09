//! What FreeBSD and macOS share: a kqueue with an `EVFILT_PROC`/`NOTE_EXIT`
//! watch on a pid, the BSD counterpart of a pidfd (the kqueue fd itself polls
//! readable once the event is pending, so it is waited on as a pidfd is),
//! and the answers for what only Linux has.

use std::os::fd::OwnedFd;
use std::os::unix::net::SocketAddr;

use nix::errno::Errno;
use nix::libc;

use nix::sys::event::{EvFlags, EventFilter, FilterFlag, KEvent, Kqueue};
use nix::unistd::Pid;

/// Fails with ESRCH when `pid` is gone already (a zombie still counts).
pub(crate) fn exit_watch(pid: Pid) -> Result<OwnedFd, Errno> {
    let kqueue = Kqueue::new()?;
    let watch = KEvent::new(
        pid.as_raw() as usize,
        EventFilter::EVFILT_PROC,
        EvFlags::EV_ADD | EvFlags::EV_ONESHOT,
        FilterFlag::NOTE_EXIT,
        0,
        0,
    );
    // Registration only: no event list, and a zero timeout.
    let now = nix::libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    kqueue.kevent(&[watch], &mut [], Some(now))?;
    Ok(OwnedFd::from(kqueue))
}

/// No pidfd: the kqueue watch says whether the pid still names the process
/// it was taken for, and then `kill`. Between the two, the process could
/// exit and its pid be reused: a window that a pidfd does not have.
pub(crate) fn send_signal(watch: &OwnedFd, pid: Pid, signal: libc::c_int) -> Result<(), Errno> {
    use std::os::fd::AsFd;
    let mut fds = [nix::poll::PollFd::new(
        watch.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    if nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO)? > 0 {
        return Err(Errno::ESRCH);
    }
    // SAFETY: plain integers.
    Errno::result(unsafe { libc::kill(pid.as_raw(), signal) }).map(drop)
}

/// Which process holds a given file is not read here: there is no `/proc`.
/// The caller falls back on the owner check alone, and says so.
pub(crate) fn holds_file(_pid: Pid, _dev: u64, _ino: u64) -> Result<bool, Errno> {
    Err(Errno::ENOSYS)
}

pub(crate) fn abstract_address(_name: &[u8]) -> Result<SocketAddr, Errno> {
    // Abstract socket addresses exist on Linux only; `SYSTEMD` is false
    // here, so no caller reaches this.
    Err(Errno::EAFNOSUPPORT)
}

/// Which signals another process handles is not read here: there is no
/// `/proc`. The caller sends the signal as asked, and the README says so.
pub(crate) fn handled_signals(_pid: Pid) -> Result<super::Signals, Errno> {
    Err(Errno::ENOSYS)
}

/// `issetugid(2)`: whether this process was started set-uid or set-gid.
pub(crate) fn is_set_id() -> bool {
    // SAFETY: no arguments; it only reads the process's flag.
    unsafe { libc::issetugid() != 0 }
}

/// The children of this process are not listed here: a launcher that cannot
/// read its pipe finds the daemon by its pid frame alone.
pub(crate) fn children() -> Result<Vec<Pid>, Errno> {
    Err(Errno::ENOSYS)
}

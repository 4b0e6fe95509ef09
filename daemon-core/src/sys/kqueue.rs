//! FreeBSD and macOS: a kqueue with an `EVFILT_PROC`/`NOTE_EXIT` watch on a
//! pid, the BSD counterpart of a pidfd. The kqueue fd itself polls readable
//! once the event is pending, so the launcher waits on it as on a pidfd.

use std::io;
use std::os::fd::OwnedFd;

use nix::sys::event::{EvFlags, EventFilter, FilterFlag, KEvent, Kqueue};
use nix::unistd::Pid;

/// Fails with ESRCH when `pid` is gone already (a zombie still counts).
pub(crate) fn exit_watch(pid: Pid) -> io::Result<OwnedFd> {
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

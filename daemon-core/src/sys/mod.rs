//! The platform layer: one small interface, one file per OS behind it, so
//! that the detach sequence above reads the same everywhere.
//!
//! Each OS file exports the same names:
//!
//! - `snapshot()`: the thread count and the signals to reset, at once;
//! - `max_signal()`, the highest signal number;
//! - `open_fds()`: the fds open in this process, listed;
//! - `close_fds_from(keep)`: every fd above stderr closed but `keep`;
//! - `pipe()`: a pipe with both ends close-on-exec;
//! - `acquire_subreaper()` / `restore_subreaper(previous)`;
//! - `exit_watch(pid)`: an fd that polls readable once `pid` has exited,
//!   for any process, not only children;
//! - `peek_child(pid)`: a child's exit, without reaping it;
//! - `group_list(name, gid)` / `set_groups(groups)`;
//! - `send_signal(watch, pid, signal)`: through a pidfd, or kill after the
//!   kqueue watch said the pid is still the one watched;
//! - `holds_file(pid, dev, ino)`: whether a process has a file open
//!   (Linux; ENOSYS elsewhere);
//! - `process_uids(pid)`: its real and saved uids;
//! - `children()`: this process's children (Linux; ENOSYS elsewhere);
//! - `set_parent_death_signal(signal)`: for the process an upgrade starts,
//!   until it is ready;
//! - `set_undumpable()`: for that process, when the daemon dropped its user;
//! - `is_set_id()`: whether this process runs set-uid or set-gid;
//! - `handled_signals(pid)`: the signals a process catches, blocks or
//!   ignores (Linux; ENOSYS elsewhere);
//! - `DIRECTORY`: the flags a directory is opened with, to walk through;
//! - `abstract_address(name)`: an abstract socket address, Linux only.
//!
//! The portable fallbacks live here, and [`force_fallbacks`] makes Linux
//! take them, so that the tests run the code the other systems run.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering;
use std::time::Instant;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::libc;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::unistd::Pid;

use crate::state::PROCESS;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as imp;

#[cfg(target_os = "freebsd")]
mod freebsd;
#[cfg(target_os = "freebsd")]
use freebsd as imp;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
use macos as imp;

#[cfg(any(target_os = "freebsd", target_os = "macos"))]
mod bsd;
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
mod nix_only;

// What the rest of the crate may call directly. The raw `snapshot`,
// `pipe`, `close_fds_from`, `acquire_subreaper`, `exit_watch` and
// `send_signal` are reached only through the wrappers below, which the
// test hook (`force_fallbacks`) and `ExitWatch` stand in front of.
pub(crate) use imp::{
    abstract_address, children, group_list, handled_signals, holds_file, is_set_id, max_signal,
    open_fds, peek_child, process_uids, restore_subreaper, set_groups, set_parent_death_signal,
    set_undumpable, started_as, DIRECTORY, SYSTEMD,
};

/// The portable paths that [`force_fallbacks`] can select on Linux.
pub mod fallback {
    /// Which signals are altered, by asking `sigaction` for each one.
    pub const SIGNALS: u8 = 1;
    /// Closing fds from the list of open ones, as on macOS.
    pub const CLOSE_LISTED: u8 = 2;
    /// `pipe`, then `FD_CLOEXEC`, as on macOS.
    pub const PIPE: u8 = 4;
    /// No subreaper: the launcher learns of the daemon's death from a watch
    /// on its pid that the intermediate process waits for, as on macOS.
    pub const WATCH: u8 = 8;
}

/// Makes this process take the portable fallbacks in `mask` (bits of
/// [`fallback`]) where the OS has better: for tests only, so that Linux
/// runs the code that only FreeBSD or macOS would. Call it before the detach.
#[doc(hidden)]
pub fn force_fallbacks(mask: u8) {
    PROCESS.forced_fallbacks.store(mask, Ordering::Relaxed);
}

#[inline]
pub(crate) fn forced(which: u8) -> bool {
    PROCESS.forced_fallbacks.load(Ordering::Relaxed) & which != 0
}

/// The signals 1 to 128, as a bit set: bit `n - 1` for signal `n`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Signals(pub(crate) u128);

impl Signals {
    pub(crate) fn contains(self, signal: libc::c_int) -> bool {
        (1..=128).contains(&signal) && self.0 & (1 << (signal - 1)) != 0
    }

    pub(crate) fn insert(&mut self, signal: libc::c_int) {
        if (1..=128).contains(&signal) {
            self.0 |= 1 << (signal - 1);
        }
    }
}

/// What the detach needs to know of the process it is about to fork.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot {
    /// The number of threads: `fork` copies only the calling one.
    pub(crate) threads: usize,
    /// The signals that are ignored or caught: the ones to reset.
    pub(crate) altered_signals: Signals,
}

/// The snapshot, by the OS's own means or, when forced, by the portable ones.
pub(crate) fn take_snapshot() -> Result<Snapshot, Errno> {
    let snapshot = imp::snapshot()?;
    if forced(fallback::SIGNALS) {
        return Ok(Snapshot {
            altered_signals: signals_by_sigaction(),
            ..snapshot
        });
    }
    Ok(snapshot)
}

/// Which signals are ignored or caught, asking `sigaction` for each: where
/// no file lists them, as `/proc/self/status` does on Linux.
pub(crate) fn signals_by_sigaction() -> Signals {
    let mut altered = Signals::default();
    for signal in 1..=max_signal() {
        // SAFETY: a null action only reads the current one into `old`.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        if unsafe { libc::sigaction(signal, std::ptr::null(), &mut old) } != 0 {
            // A number the C library keeps for itself.
            continue;
        }
        if old.sa_sigaction != libc::SIG_DFL {
            altered.insert(signal);
        }
    }
    altered
}

/// Closes every fd above stderr but `keep`, by the OS's means or, when
/// forced, from the list of open fds.
///
/// # Safety
///
/// As `crate::fds::close_fds_except`.
#[inline]
pub(crate) unsafe fn close_fds_except(keep: &[RawFd]) -> Result<(), Errno> {
    if forced(fallback::CLOSE_LISTED) {
        return close_listed(open_fds()?, keep);
    }
    imp::close_fds_from(keep)
}

/// Closes each listed fd above stderr that `keep` does not hold.
pub(crate) fn close_listed(listed: Vec<RawFd>, keep: &[RawFd]) -> Result<(), Errno> {
    for fd in listed {
        if fd > 2 && !keep.contains(&fd) {
            // SAFETY: `close_fds_except`'s contract; EBADF is the fd that
            // the listing itself used, closed already.
            unsafe { libc::close(fd) };
        }
    }
    Ok(())
}

/// A pipe, both ends close-on-exec: `pipe2` where the OS has it.
pub(crate) fn cloexec_pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    if forced(fallback::PIPE) {
        return pipe_then_cloexec();
    }
    imp::pipe()
}

/// `pipe`, then `FD_CLOEXEC` on each end: not atomic, but the detach runs
/// with one thread, so no other thread can fork and exec in between.
pub(crate) fn pipe_then_cloexec() -> Result<(OwnedFd, OwnedFd), Errno> {
    let (read, write) = nix::unistd::pipe()?;
    for end in [&read, &write] {
        fcntl(end, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    }
    Ok((read, write))
}

/// Whether the launcher becomes a subreaper: with the previous state to
/// restore, or `None` when it cannot (macOS), or must not (forced).
pub(crate) fn subreaper() -> Option<bool> {
    if forced(fallback::WATCH) {
        return None;
    }
    imp::acquire_subreaper()
}

/// Writes `bytes` to `fd` only if it takes them now; for a notice that must
/// not hold up a process whose output nobody reads.
pub(crate) fn write_without_blocking(fd: BorrowedFd<'_>, bytes: &[u8]) {
    let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
    if poll(&mut fds, PollTimeout::ZERO).is_ok_and(|ready| ready > 0) {
        let _ = nix::unistd::write(fd, bytes);
    }
}

/// Waits until `fd` is ready for `events`, or `deadline` passes: whether it
/// is. EINTR and EAGAIN are tried again; `None` waits without end.
pub(crate) fn poll_until(
    fd: BorrowedFd<'_>,
    events: PollFlags,
    deadline: Option<Instant>,
) -> Result<bool, Errno> {
    loop {
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                // Rounded up, so that a wait never ends just short of the deadline.
                let millis = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
                PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = [PollFd::new(fd, events)];
        match poll(&mut fds, timeout) {
            Ok(0) => return Ok(false),
            // POSIX allows EAGAIN of poll: "allocation of internal data
            // structures failed, but a later request may succeed".
            Err(Errno::EINTR | Errno::EAGAIN) => continue,
            // Ready, hung up, or an error that the next call will meet.
            Ok(_) => return Ok(true),
            Err(e) => return Err(e),
        }
    }
}

/// A process pinned: a pidfd on Linux, a kqueue `NOTE_EXIT` watch on
/// FreeBSD and macOS, with its pid. It polls readable once the process has
/// exited; until then the pid is that process's. Signals go through it.
#[derive(Debug)]
pub(crate) struct ExitWatch {
    fd: OwnedFd,
    pid: Pid,
}

impl ExitWatch {
    /// Pins `pid`; ESRCH when it is gone already (a zombie still counts).
    pub(crate) fn new(pid: Pid) -> Result<ExitWatch, Errno> {
        imp::exit_watch(pid).map(|fd| ExitWatch { fd, pid })
    }

    /// The pid watched.
    pub(crate) fn pid(&self) -> Pid {
        self.pid
    }

    /// Sends `signal` to the process watched, and to no other: through the
    /// pidfd, or, with a kqueue, only while the watch says it has not exited.
    pub(crate) fn signal(&self, signal: libc::c_int) -> Result<(), Errno> {
        imp::send_signal(&self.fd, self.pid, signal)
    }

    /// Whether the process has exited, by `deadline` at the latest: `false`
    /// when the deadline passed first, or the wait failed.
    pub(crate) fn wait_until(&self, deadline: Option<Instant>) -> bool {
        poll_until(self.fd.as_fd(), PollFlags::POLLIN, deadline) == Ok(true)
    }

    /// Whether the process has exited, now.
    pub(crate) fn has_exited(&self) -> bool {
        self.wait_until(Some(Instant::now()))
    }

    /// Whether the process still runs, now: `false` as well when the watch
    /// cannot say, so that nothing is signalled on a guess.
    pub(crate) fn is_running(&self) -> bool {
        poll_until(self.fd.as_fd(), PollFlags::POLLIN, Some(Instant::now())) == Ok(false)
    }
}

impl AsFd for ExitWatch {
    /// The watch's fd, to poll with others.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

pub(crate) fn io_errno(error: io::Error) -> Errno {
    Errno::from_raw(error.raw_os_error().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigaction_sees_what_the_process_ignores_and_catches() {
        extern "C" fn caught(_: libc::c_int) {}
        // SAFETY: the test binary's own signals, set to what it then reads.
        unsafe {
            libc::signal(libc::SIGUSR2, libc::SIG_IGN);
            libc::signal(libc::SIGWINCH, caught as *const () as libc::sighandler_t);
        }
        let altered = signals_by_sigaction();
        // On Linux, against the OS's own answer, in the same test: another
        // test could change the process's signals in between.
        // glibc keeps 32 and 33, which /proc shows caught and sigaction
        // refuses to describe; the reset leaves them alone either way.
        #[cfg(target_os = "linux")]
        {
            let glibc = !(0b11u128 << 31);
            let from_proc = imp::snapshot().unwrap().altered_signals;
            assert_eq!(altered.0 & glibc, from_proc.0 & glibc);
        }
        assert!(altered.contains(libc::SIGUSR2));
        assert!(altered.contains(libc::SIGWINCH));
        assert!(!altered.contains(libc::SIGTERM));
        unsafe {
            libc::signal(libc::SIGUSR2, libc::SIG_DFL);
            libc::signal(libc::SIGWINCH, libc::SIG_DFL);
        }
    }

    #[test]
    fn pipe_then_cloexec_sets_the_flag_on_both_ends() {
        let (read, write) = pipe_then_cloexec().unwrap();
        for end in [&read, &write] {
            let flags = FdFlag::from_bits_truncate(fcntl(end, FcntlArg::F_GETFD).unwrap());
            assert!(flags.contains(FdFlag::FD_CLOEXEC));
        }
    }
}

//! File descriptors in the daemon: stdio onto /dev/null or log files, every other inherited fd closed.

use std::fs;
use std::os::fd::{OwnedFd, RawFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::libc;
use nix::sys::stat::Mode;
use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout};

use crate::Error;

/// Points stdin at /dev/null, and stdout and stderr at their log files or /dev/null.
pub(crate) fn redirect_stdio(stdout: Option<&Path>, stderr: Option<&Path>) -> Result<(), Error> {
    let null = open("/dev/null", OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(Error::DevNull)?;
    let stdout_error = |source| match stdout {
        Some(path) => Error::Stdout {
            path: path.to_owned(),
            source,
        },
        None => Error::DevNull(source),
    };
    let stderr_error = |source| match stderr {
        Some(path) => Error::Stderr {
            path: path.to_owned(),
            source,
        },
        None => Error::DevNull(source),
    };
    let out = stdout.map(open_log).transpose().map_err(stdout_error)?;
    let err = stderr.map(open_log).transpose().map_err(stderr_error)?;
    dup2_stdin(&null).map_err(Error::DevNull)?;
    dup2_stdout(out.as_ref().unwrap_or(&null)).map_err(stdout_error)?;
    dup2_stderr(err.as_ref().unwrap_or(&null)).map_err(stderr_error)
}

/// Log files are appended to, so that several runs and `logrotate` share them.
pub(crate) fn open_log(path: &Path) -> Result<OwnedFd, Errno> {
    let flags = OFlag::O_WRONLY | OFlag::O_APPEND | OFlag::O_CREAT | OFlag::O_CLOEXEC;
    open(path, flags, Mode::from_bits_truncate(0o666))
}

/// Closes every file descriptor above stderr except those in `keep`: the
/// detach's fd-closing step, public so that it can be measured alone.
///
/// The cost follows the number of open fds, never RLIMIT_NOFILE: one
/// `close_range` per gap between kept fds, or the `/proc/self/fd` listing
/// where `close_range` is missing or forbidden.
///
/// # Safety
///
/// It closes fds that Rust objects may still own, which would then close or
/// use numbers that mean something else. Call it only where nothing else uses
/// them any more, as in a freshly forked child.
pub unsafe fn close_fds_except(keep: &[RawFd]) -> Result<(), Errno> {
    let mut keep = keep.to_vec();
    keep.sort_unstable();
    // ENOSYS before Linux 5.9; EPERM where a seccomp filter predates the call.
    close_ranges_around(&keep).or_else(|_| close_listed_except(&keep))
}

fn close_ranges_around(keep: &[RawFd]) -> Result<(), Errno> {
    let mut first: libc::c_uint = 3;
    for &fd in keep.iter().filter(|&&fd| fd >= 3) {
        let fd = fd as libc::c_uint;
        if fd > first {
            close_range(first, fd - 1)?;
        }
        first = fd + 1;
    }
    close_range(first, libc::c_uint::MAX)
}

fn close_range(first: libc::c_uint, last: libc::c_uint) -> Result<(), Errno> {
    // SAFETY: close_range takes plain integers; that nothing still uses the
    // fds it closes is `close_fds_except`'s contract.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0 as libc::c_uint) };
    Errno::result(rc).map(drop)
}

fn close_listed_except(keep: &[RawFd]) -> Result<(), Errno> {
    let listed: Vec<RawFd> = fs::read_dir("/proc/self/fd")
        .map_err(io_errno)?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in listed {
        if fd > 2 && !keep.contains(&fd) {
            // SAFETY: as in close_range; EBADF is the listing's own fd, closed already.
            unsafe { libc::close(fd) };
        }
    }
    Ok(())
}

fn io_errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(0))
}

/// Opens /dev/null on each of fds 0, 1 and 2 that is closed, as a host
/// process may leave them: otherwise the pidfile or the report pipe would
/// take one of those numbers and be overwritten by the stdio redirection.
pub(crate) fn fill_stdio() -> Result<(), Errno> {
    for fd in 0..=2 {
        if !is_open(fd) {
            // The lowest free number is `fd` itself, so leak it there.
            let null = open("/dev/null", OFlag::O_RDWR, Mode::empty())?;
            std::mem::forget(null);
        }
    }
    Ok(())
}

/// A `keep_fds` entry must be open, and above stderr: 0, 1 and 2 are
/// redirected whatever is kept.
pub(crate) fn check_keepable(fd: RawFd) -> Result<(), Error> {
    let reason = if fd <= 2 {
        "is stdio, which is always redirected (see stdout and stderr)"
    } else if !is_open(fd) {
        "is not open"
    } else {
        return Ok(());
    };
    Err(Error::KeepFd { fd, reason })
}

fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only asks whether the number is an open fd.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

//! File descriptors in the daemon: stdio onto /dev/null or log files, every other inherited fd closed.

use std::os::fd::{OwnedFd, RawFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{fcntl, open, FcntlArg, OFlag};
use nix::libc;
use nix::sys::stat::{lstat, Mode, SFlag};
use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout};

use crate::privileges::Credentials;
use crate::{sys, Error};

/// Which of the two log streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub(crate) fn error(self, path: &Path, source: Errno) -> Error {
        let path = path.to_owned();
        match self {
            Stream::Stdout => Error::Stdout {
                path,
                errno: source as i32,
            },
            Stream::Stderr => Error::Stderr {
                path,
                errno: source as i32,
            },
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Points stdin at /dev/null, and stdout and stderr at their log files or
/// /dev/null. The log files are opened as the daemon's user when it will
/// drop to one: it keeps them open after the drop.
pub(crate) fn redirect_stdio(
    stdout: Option<&Path>,
    stderr: Option<&Path>,
    credentials: Option<&Credentials>,
) -> Result<(), Error> {
    let null = open("/dev/null", OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| Error::DevNull(e as i32))?;
    let open_logs = || -> Result<_, Error> {
        let out = stdout
            .map(|path| open_log(path, Stream::Stdout))
            .transpose()?;
        let err = stderr
            .map(|path| open_log(path, Stream::Stderr))
            .transpose()?;
        Ok((out, err))
    };
    let (out, err) = match credentials {
        Some(credentials) => credentials.as_daemon_user(open_logs)??,
        None => open_logs()?,
    };
    fn fail(stream: Stream, path: Option<&Path>) -> impl Fn(Errno) -> Error + '_ {
        move |source| match path {
            Some(path) => stream.error(path, source),
            None => Error::DevNull(source as i32),
        }
    }
    dup2_stdin(&null).map_err(|e| Error::DevNull(e as i32))?;
    dup2_stdout(out.as_ref().unwrap_or(&null)).map_err(fail(Stream::Stdout, stdout))?;
    dup2_stderr(err.as_ref().unwrap_or(&null)).map_err(fail(Stream::Stderr, stderr))
}

/// Log files are appended to, so that several runs and `logrotate` share
/// them. A symbolic link is refused: in a directory the daemon's user may
/// write, it could point the daemon's output at any file.
pub(crate) fn open_log(path: &Path, stream: Stream) -> Result<OwnedFd, Error> {
    // O_NONBLOCK for the open only: a FIFO that nobody reads, planted at the
    // path, fails at once (ENXIO) instead of holding the daemon.
    let flags = OFlag::O_WRONLY
        | OFlag::O_APPEND
        | OFlag::O_CREAT
        | OFlag::O_NOFOLLOW
        | OFlag::O_NONBLOCK
        | OFlag::O_CLOEXEC;
    let opened = open(path, flags, Mode::from_bits_truncate(0o666)).and_then(|fd| {
        let flags = OFlag::from_bits_truncate(fcntl(&fd, FcntlArg::F_GETFL)?);
        fcntl(&fd, FcntlArg::F_SETFL(flags - OFlag::O_NONBLOCK))?;
        Ok(fd)
    });
    opened.map_err(|source| {
        // O_NOFOLLOW's answer: ELOOP on Linux and macOS, EMLINK on FreeBSD.
        let refused = matches!(source, Errno::ELOOP | Errno::EMLINK);
        let is_symlink = refused
            && lstat(path).is_ok_and(|st| {
                SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK
            });
        if is_symlink {
            Error::LogSymlink {
                stream: stream.name(),
                path: path.to_owned(),
            }
        } else {
            stream.error(path, source)
        }
    })
}

/// Closes every file descriptor above stderr except those in `keep`: the
/// detach's fd-closing step. Not public API: the benches measure it alone
/// through `__testing`.
///
/// The cost follows the number of open fds, never `RLIMIT_NOFILE`:
/// `close_range` once per gap between kept fds on Linux and FreeBSD (then
/// `closefrom` on FreeBSD), or the list of open fds where the call is
/// missing or forbidden (`/proc/self/fd` on Linux) and on macOS
/// (`proc_pidinfo(PROC_PIDLISTFDS)`).
///
/// # Safety
///
/// It closes fds that Rust objects may still own, which would then close or
/// use numbers that mean something else. Call it only where nothing else uses
/// them any more, as in a freshly forked child.
pub(crate) unsafe fn close_fds_except(keep: &[RawFd]) -> Result<(), Errno> {
    // SAFETY: the caller's contract, passed on.
    unsafe { sys::close_fds_except(keep) }
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
    let reason = if fd < 0 {
        "is not a file descriptor"
    } else if fd <= 2 {
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

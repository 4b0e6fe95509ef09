//! Log files that logrotate can move: [`reopen_logs`] opens the `stdout` and
//! `stderr` paths again, in place.

use std::io::Write;
use std::path::PathBuf;
use std::sync::PoisonError;

use nix::unistd::{dup2_stderr, dup2_stdout};

use crate::fds::{self, Stream};
use crate::state::PROCESS;
use crate::Error;

pub(crate) fn remember(stdout: Option<PathBuf>, stderr: Option<PathBuf>) {
    *PROCESS.logs.lock().unwrap_or_else(PoisonError::into_inner) = (stdout, stderr);
}

/// Opens the `stdout` and `stderr` log files again, at their paths, and puts
/// them on fds 1 and 2: after logrotate renamed a log, the next line lands in a
/// new file at the old path.
///
/// Call it on SIGHUP: the daemon has no terminal, so SIGHUP is free to mean
/// "reload", as it does for nginx and sshd. Call it from a task or a thread
/// that a signal woke (tokio's `signal`, `sigwait`), never from inside a
/// signal handler: it takes a lock and allocates.
///
/// It does nothing for a stream on /dev/null, and nothing in the foreground.
/// A symbolic link at the path is refused, as at the start.
/// The file is created, if it must be, by the daemon's user after a change of
/// user, and looked up inside the new root after a `chroot`: let logrotate
/// create it (`create 0640 app app`), or keep logs where the daemon can
/// write them.
///
/// # Errors
///
/// [`Error::Stdout`] or [`Error::Stderr`] when a log file cannot be opened
/// or put on its fd, and [`Error::LogSymlink`] when a symbolic link is at
/// its path; the stream then writes to the file it had.
pub fn reopen_logs() -> Result<(), Error> {
    let logs = PROCESS.logs.lock().unwrap_or_else(PoisonError::into_inner);
    let (stdout, stderr) = &*logs;
    // What Rust still buffers belongs to the old file.
    let _ = std::io::stdout().flush();
    if let Some(path) = stdout {
        let file = fds::open_log(path, Stream::Stdout)?;
        dup2_stdout(&file).map_err(|source| Stream::Stdout.error(path, source))?;
    }
    if let Some(path) = stderr {
        let file = fds::open_log(path, Stream::Stderr)?;
        dup2_stderr(&file).map_err(|source| Stream::Stderr.error(path, source))?;
    }
    Ok(())
}

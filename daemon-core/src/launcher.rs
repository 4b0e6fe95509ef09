//! The launcher's side: relay the daemon's status lines and turn its report,
//! or its death, into the outcome.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::report::Report;
use crate::Error;

/// How long a daemon that missed its `ready_timeout` gets to exit on SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Blocks until the daemon is ready, fails, dies or runs out of time.
///
/// The launcher is a child subreaper (set before the first fork), so the
/// daemon becomes its child when the intermediate process exits: the launcher
/// can then read the exit status of a daemon that dies, and stop one that is
/// late. Reaping the intermediate first also makes sure of that hand-over.
pub(crate) fn await_ready(
    pipe: File,
    intermediate: Pid,
    timeout: Option<Duration>,
) -> Result<(), Error> {
    let deadline = timeout.map(|timeout| Instant::now() + timeout);
    // The intermediate process sends the daemon's pid, or its own failure,
    // and exits right after the second fork: wait for that first, so that
    // this process does not wake up while the daemon is still busy.
    while let Err(Errno::EINTR) = waitpid(intermediate, None) {}
    let mut daemon = None;
    let mut panic = None;
    let outcome = loop {
        if !readable_before(&pipe, deadline) {
            break Err(stop(daemon, timeout.unwrap_or_default()));
        }
        match Report::read_from(&pipe) {
            Some(Report::Pid(pid)) => daemon = Some(Pid::from_raw(pid)),
            Some(Report::Status(line)) => {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
            }
            Some(Report::Panic(message)) => panic = Some(message),
            Some(Report::Ready) => break Ok(()),
            Some(Report::Failed(error)) => break Err(error),
            None => break Err(Error::Vanished),
        }
    };
    match (outcome, daemon) {
        (Err(Error::Vanished), Some(daemon)) => Err(death(daemon, panic)),
        (outcome, _) => outcome,
    }
}

/// Whether the pipe has data or was closed before `deadline`.
fn readable_before(pipe: &File, deadline: Option<Instant>) -> bool {
    loop {
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
                    .unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) => return false,
            Err(Errno::EINTR) => continue,
            // Readable, hung up, or an error that the read will meet.
            Ok(_) | Err(_) => return true,
        }
    }
}

/// How the daemon, which closed the pipe without a report, ended.
fn death(daemon: Pid, panic: Option<String>) -> Error {
    loop {
        return match waitpid(daemon, None) {
            Ok(WaitStatus::Exited(_, status)) => Error::Exited { status, panic },
            Ok(WaitStatus::Signaled(_, signal, _)) => Error::Killed { signal },
            Err(Errno::EINTR) => continue,
            _ => Error::Vanished,
        };
    }
}

/// Stops a daemon that missed its deadline: SIGTERM, then SIGKILL.
fn stop(daemon: Option<Pid>, timeout: Duration) -> Error {
    if let Some(daemon) = daemon {
        let _ = kill(daemon, Signal::SIGTERM);
        let grace_end = Instant::now() + STOP_GRACE;
        while matches!(
            waitpid(daemon, Some(WaitPidFlag::WNOHANG)),
            Ok(WaitStatus::StillAlive)
        ) {
            if Instant::now() >= grace_end {
                let _ = kill(daemon, Signal::SIGKILL);
                let _ = waitpid(daemon, None);
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
    Error::ReadyTimeout { timeout }
}

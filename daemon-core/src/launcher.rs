//! The launcher's side: relay the daemon's status lines and turn its report,
//! or its death, into the outcome.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, killpg, Signal};
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::{getpgid, Pid};

use crate::report::Report;
use crate::{Cause, Error};

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
    // A timeout too long to add to the clock, `Duration::MAX` say, is none.
    let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
    // The intermediate process sends the daemon's pid, or its own failure,
    // and exits right after the second fork: wait for that first, so that
    // this process does not wake up while the daemon is still busy.
    while let Err(Errno::EINTR) = waitpid(intermediate, None) {}
    let mut daemon = None;
    let mut cause = None;
    let outcome = loop {
        // Past the deadline the poll still reports what is already in the
        // pipe, so the pid frame, written before the intermediate exited, and
        // a report that just made it are read before the daemon is stopped.
        if !readable_before(&pipe, deadline) {
            break Err(stop(daemon, timeout.unwrap_or_default()));
        }
        match Report::read_from(&pipe) {
            Some(Report::Pid(pid)) => {
                daemon = Some(Watched {
                    pid: Pid::from_raw(pid),
                    group: intermediate,
                })
            }
            Some(Report::Status(line)) => {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
            }
            Some(Report::Panic(message)) => cause = Some(Cause::Panicked(message)),
            Some(Report::NotReady(reason)) => cause = Some(Cause::NotReady(reason)),
            Some(Report::Ready) => break Ok(()),
            Some(Report::Failed(error)) => {
                // It exits right after the report: reap it, not leave a zombie
                // to a launcher that may go on.
                if let Some(daemon) = daemon {
                    daemon.watch(Some(Instant::now() + STOP_GRACE));
                }
                break Err(error);
            }
            None => break Err(Error::Vanished),
        }
    };
    match (outcome, daemon) {
        (Err(Error::Vanished), Some(daemon)) => Err(death(daemon, cause, deadline, timeout)),
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

/// What became of the daemon, seen from the launcher.
enum Ending {
    /// It ended, and this is its status.
    Status(WaitStatus),
    /// It is gone, but its status was not this process's to read.
    Gone,
    /// It still runs.
    Running,
}

/// The daemon, as the launcher watches it.
#[derive(Debug, Clone, Copy)]
struct Watched {
    pid: Pid,
    /// Its process group, whose id is the intermediate's pid: the session
    /// leader it was forked from. The helpers it starts are in it too.
    group: Pid,
}

impl Watched {
    /// Sends `signal` to the daemon, and to its group while the daemon is
    /// still in it, which keeps the group's id from being reused. A daemon
    /// that left it (by a setsid of its own) may have left the id free for
    /// someone else's group.
    fn signal(self, signal: Signal) {
        if getpgid(Some(self.pid)) == Ok(self.group) {
            let _ = killpg(self.group, signal);
        }
        let _ = kill(self.pid, signal);
    }

    /// Waits until the daemon ends, or `until` passes. A daemon that ended
    /// before it was ready takes its helpers with it: they are killed while
    /// it is still a zombie, so still in its group, and only then is it
    /// reaped.
    fn watch(self, until: Option<Instant>) -> Ending {
        let ended = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        loop {
            match waitid(Id::Pid(self.pid), ended) {
                Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => {}
                Ok(status) => {
                    self.signal(Signal::SIGKILL);
                    while let Err(Errno::EINTR) = waitpid(self.pid, None) {}
                    return Ending::Status(status);
                }
                // Not this process's child (no subreaper): ask whether it lives.
                Err(_) if kill(self.pid, None) == Err(Errno::ESRCH) => return Ending::Gone,
                Err(_) => {}
            }
            if until.is_some_and(|until| Instant::now() >= until) {
                return Ending::Running;
            }
            thread::sleep(Duration::from_millis(2));
        }
    }
}

/// How the daemon, which closed the pipe without a report, ended; one that
/// closed it and runs on (by exec'ing, say) is stopped at the deadline.
fn death(
    daemon: Watched,
    cause: Option<Cause>,
    deadline: Option<Instant>,
    timeout: Option<Duration>,
) -> Error {
    match daemon.watch(deadline) {
        Ending::Status(WaitStatus::Exited(_, status)) => Error::Exited { status, cause },
        Ending::Status(WaitStatus::Signaled(_, signal, _)) => Error::Killed { signal, cause },
        Ending::Status(_) | Ending::Gone => Error::Vanished,
        Ending::Running => stop(Some(daemon), timeout.unwrap_or_default()),
    }
}

/// Stops a daemon that missed its deadline, with its group: SIGTERM, then
/// SIGKILL after [`STOP_GRACE`]. `stopped` is false only when it could not
/// be seen to end, and then the pidfile is left to it.
fn stop(daemon: Option<Watched>, timeout: Duration) -> Error {
    let stopped = match daemon {
        None => false,
        Some(daemon) => {
            daemon.signal(Signal::SIGTERM);
            match daemon.watch(Some(Instant::now() + STOP_GRACE)) {
                Ending::Running => {
                    daemon.signal(Signal::SIGKILL);
                    !matches!(
                        daemon.watch(Some(Instant::now() + STOP_GRACE)),
                        Ending::Running
                    )
                }
                _ => true,
            }
        }
    };
    Error::ReadyTimeout { timeout, stopped }
}

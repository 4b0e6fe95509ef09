//! The launcher's side: relay the daemon's status lines and turn its report,
//! or its death, into the outcome, never waiting past the deadline.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{getpgid, Pid};

use crate::report::{Next, Reader, Report};
use crate::sys::{self, ExitWatch};
use crate::{timings, Cause, Error};

/// How long a daemon that missed its `ready_timeout`, or an upgrade's new
/// process, gets to exit on SIGTERM, and then on SIGKILL.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(2);

/// How many status lines wait for the launcher's stdout; more are dropped.
const RELAY_QUEUE: usize = 1024;

/// How the daemon passes to the launcher when the intermediate process exits.
pub(crate) enum Handover {
    /// The launcher is a subreaper: the daemon becomes its child.
    Reaper,
    /// No subreaper (macOS): the launcher watches the daemon's pid, taken
    /// while the intermediate process still lives, and `release` closed
    /// then lets the intermediate exit.
    Watch { release: OwnedFd },
}

/// Blocks until the daemon is ready, fails, dies or runs out of time.
///
/// The launcher is a child subreaper (set before the first fork), so the
/// daemon becomes its child when the intermediate process exits: the launcher
/// can then read the exit status of a daemon that dies, and stop one that is
/// late. It reaps the intermediate before it adopts the daemon, which makes
/// sure of that hand-over.
///
/// What the pipe says is not all to be believed: after the drop of
/// privileges, the daemon's own code can write to it. So the daemon's pid is
/// taken only from the first frame, which the intermediate process writes
/// before the daemon writes anything, and only if that pid is this
/// process's own child; nothing else is ever signalled.
pub(crate) fn await_ready(
    pipe: File,
    intermediate: Pid,
    deadline: Option<Instant>,
    timeout: Duration,
    handover: Handover,
) -> Result<(), Error> {
    let mut reader = Reader::new(pipe);
    let mut relay = Relay::default();
    // A deadline shorter than the detach still gets the daemon's pid, to
    // stop it: the hand-over is part of the stop, and has its grace.
    let grace = deadline.map(|deadline| deadline.max(Instant::now() + STOP_GRACE));
    let mut cause = None;
    // The first frame is the intermediate's: the daemon's pid, taken from
    // it alone, or the intermediate's own failure.
    let (pid, pending) = match reader.next(grace) {
        Next::Frame(Report::Pid(pid)) => (Some(pid), None),
        other => (None, Some(other)),
    };
    timings::mark("pid frame read");
    let mut daemon = None;
    let reaper = match handover {
        Handover::Reaper => true,
        // Without a subreaper the pid is watched before the intermediate may
        // exit, which keeps a dead daemon its zombie till then; watched or
        // not, the intermediate may go now.
        Handover::Watch { release } => {
            daemon = pid.and_then(|pid| Watched::watch(pid, intermediate));
            drop(release);
            wait_child(intermediate, grace);
            false
        }
    };
    let ended = read_frames(&mut reader, pending, deadline, &mut cause, |line| {
        relay.line(line)
    });
    // With a subreaper, the daemon becomes this process's child when the
    // intermediate exits. The intermediate is reaped whatever the outcome:
    // left to init, it would stay a zombie under a PID 1 that reaps
    // nothing. The daemon is adopted only when the outcome needs it, to
    // wait for its end or to stop it.
    if reaper {
        wait_child(intermediate, grace);
        timings::mark("intermediate reaped");
        if !matches!(ended, Ended::Ready) {
            daemon = pid.and_then(|pid| Watched::adopt(pid, intermediate));
        }
    }
    // Closed before any stop: a daemon that still writes learns that nobody
    // reads, and its ready() says so.
    drop(reader);
    let outcome = match (ended, &daemon) {
        (Ended::Ready, _) => Ok(()),
        (Ended::Late, daemon) => Err(stop(daemon.as_ref(), timeout)),
        (Ended::Silent, Some(daemon)) => Err(death(daemon, cause, deadline, timeout)),
        // No pid frame, and the pipe closed: only the kernel says whether
        // a daemon of this start still runs, by this process's children.
        (Ended::Silent, None) => match Watched::find_child(intermediate) {
            Some(daemon) => Err(death(&daemon, cause, deadline, timeout)),
            None => Err(Error::Vanished),
        },
        // The pipe failed, not the daemon: it may run, ready or not. It is
        // found (the pid frame, or else this process's child in its group)
        // and stopped like a late one, before the launcher says why.
        (Ended::Broken(source), daemon) => {
            let orphan = match daemon {
                Some(_) => None,
                None => Watched::find_child(intermediate),
            };
            let stopped = match daemon.as_ref().or(orphan.as_ref()) {
                Some(daemon) => !matches!(
                    stop(Some(daemon), timeout),
                    Error::ReadyTimeout { stopped: false, .. }
                ),
                // No child of this process is left in its group: nothing of
                // the start runs, where children can be listed (Linux).
                None => sys::children().is_ok_and(|children| {
                    children
                        .iter()
                        .all(|&child| getpgid(Some(child)) != Ok(intermediate))
                }),
            };
            Err(Error::Report {
                errno: source as i32,
                stopped,
            })
        }
        (Ended::Failed(error), None) => Err(error),
        // Our code exits right after the report: reap it, not leave a zombie
        // to a launcher that may go on. One that runs on wrote it from its
        // own code, and is stopped like a late one, at the deadline at most.
        (Ended::Failed(error), Some(daemon)) => {
            let now = Instant::now();
            let until = deadline.map_or(now + STOP_GRACE, |d| d.clamp(now, now + STOP_GRACE));
            match daemon.wait(Some(until)) {
                Ending::Running => match stop(Some(daemon), timeout) {
                    stopped @ Error::ReadyTimeout { stopped: false, .. } => Err(stopped),
                    _ => Err(error),
                },
                _ => Err(error),
            }
        }
    };
    let dropped = relay.finish(deadline);
    if dropped > 0 {
        sys::write_without_blocking(
            std::io::stderr().as_fd(),
            format!(
                "daemonic: {dropped} status line{} dropped: the launcher's stdout did not take \
                 {} before the deadline\n",
                if dropped == 1 { " was" } else { "s were" },
                if dropped == 1 { "it" } else { "them" },
            )
            .as_bytes(),
        );
    }
    outcome
}

/// How the reading of the pipe ended.
pub(crate) enum Ended {
    /// The daemon is ready.
    Ready,
    /// A step failed, and the daemon said which.
    Failed(Error),
    /// Closed, or garbled: the daemon said nothing more that counts.
    Silent,
    /// Reading the pipe failed with this error.
    Broken(Errno),
    /// The deadline passed.
    Late,
}

/// The one frame loop, for the detach's launcher and for `upgrade`'s: reads
/// the daemon's frames, `pending` first, until one ends the wait. Status
/// lines go to `status`; a panic or a reason not to be ready becomes the
/// `cause` named with its death. A pid frame past the first is the
/// daemon's own code talking, and ignored.
pub(crate) fn read_frames(
    reader: &mut Reader,
    mut pending: Option<Next>,
    deadline: Option<Instant>,
    cause: &mut Option<Cause>,
    mut status: impl FnMut(String),
) -> Ended {
    loop {
        // Past the deadline the reader still takes what is already in the
        // pipe, so a report that just made it is read before the daemon is
        // stopped.
        match pending.take().unwrap_or_else(|| reader.next(deadline)) {
            Next::Late => return Ended::Late,
            // A pipe that says what no daemon of ours writes is as good as closed.
            Next::Closed | Next::Garbled => return Ended::Silent,
            Next::Failed(errno) => return Ended::Broken(errno),
            Next::Frame(Report::Pid(_)) => {}
            Next::Frame(Report::Status(line)) => status(line),
            Next::Frame(Report::Panic(message)) => *cause = Some(Cause::Panicked(message)),
            Next::Frame(Report::NotReady(reason)) => *cause = Some(Cause::NotReady(reason)),
            Next::Frame(Report::Ready) => return Ended::Ready,
            Next::Frame(Report::Failed(error)) => return Ended::Failed(error),
        }
    }
}

/// How a process ended, from its wait status: the one conversion into an
/// [`Error`], for the daemon and for an upgrade's new process.
pub(crate) enum Exit {
    /// It exited with this status.
    Code(i32),
    /// A signal of this number killed it.
    Signal(i32),
    /// Neither (stopped, continued, traced): nothing to tell.
    Unknown,
}

impl Exit {
    /// The error of a process that ended before it was ready.
    pub(crate) fn error(self, cause: Option<Cause>) -> Error {
        match self {
            Exit::Code(status) => Error::Exited { status, cause },
            Exit::Signal(signal) => Error::Killed { signal, cause },
            Exit::Unknown => Error::Vanished,
        }
    }
}

impl From<WaitStatus> for Exit {
    fn from(status: WaitStatus) -> Exit {
        match status {
            WaitStatus::Exited(_, code) => Exit::Code(code),
            WaitStatus::Signaled(_, signal, _) => Exit::Signal(signal as i32),
            _ => Exit::Unknown,
        }
    }
}

impl From<std::process::ExitStatus> for Exit {
    fn from(status: std::process::ExitStatus) -> Exit {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::Unknown,
        }
    }
}

/// Reaps a child of this process, waiting no later than `deadline`;
/// whether it was reaped.
fn wait_child(child: Pid, deadline: Option<Instant>) -> bool {
    if deadline.is_none() {
        while let Err(Errno::EINTR) = waitpid(child, None) {}
        return true;
    }
    match ExitWatch::new(child) {
        // Readable once the child has exited: the wait that follows is short.
        Ok(watch) => {
            if !watch.wait_until(deadline) {
                return false;
            }
            loop {
                match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
                    Err(Errno::EINTR) => {}
                    Ok(WaitStatus::StillAlive) => return false,
                    _ => return true,
                }
            }
        }
        Err(_) => loop {
            match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => {}
                _ => return true,
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return false;
            }
            thread::sleep(Duration::from_millis(1));
        },
    }
}

/// The daemon's status lines on their way to the launcher's stdout, written
/// by a thread of their own: a stdout that nobody reads blocks that thread,
/// never the launcher, which keeps its deadline and says what it dropped.
#[derive(Default)]
struct Relay {
    lines: Option<SyncSender<String>>,
    finished: Option<Receiver<()>>,
    thread: Option<thread::JoinHandle<()>>,
    written: Arc<AtomicUsize>,
    queued: usize,
    dropped: usize,
}

impl Relay {
    fn line(&mut self, line: String) {
        if self.lines.is_none() && self.finished.is_none() {
            self.start();
        }
        match self.lines.as_ref().map(|lines| lines.try_send(line)) {
            Some(Ok(())) => self.queued += 1,
            Some(Err(TrySendError::Full(_) | TrySendError::Disconnected(_))) | None => {
                self.dropped += 1
            }
        }
    }

    fn start(&mut self) {
        let (lines, queue) = mpsc::sync_channel::<String>(RELAY_QUEUE);
        let (finished, done) = mpsc::channel();
        let written = Arc::clone(&self.written);
        let spawned = thread::Builder::new()
            .name("daemonic-relay".into())
            .spawn(move || {
                // Straight to fd 1: Rust's stdout lock could be held by this
                // thread, blocked, when the launcher flushes at its exit.
                let mut stdout = File::from(
                    std::io::stdout()
                        .as_fd()
                        .try_clone_to_owned()
                        .expect("fd 1 is open: fill_stdio made sure"),
                );
                for line in queue {
                    if stdout.write_all(format!("{line}\n").as_bytes()).is_err() {
                        break;
                    }
                    written.fetch_add(1, Ordering::Relaxed);
                }
                let _ = finished.send(());
            });
        if let Ok(thread) = spawned {
            self.lines = Some(lines);
            self.finished = Some(done);
            self.thread = Some(thread);
        }
    }

    /// Waits until every queued line is written, or `deadline`; how many
    /// lines were not written.
    fn finish(mut self, deadline: Option<Instant>) -> usize {
        drop(self.lines.take());
        if let Some(done) = self.finished.take() {
            let finished = match deadline {
                None => done.recv().map_err(drop),
                Some(deadline) => done
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    .map_err(drop),
            };
            // Joined when it is done, so that no thread of ours outlives a
            // failed start; one still blocked on stdout is left to the exit.
            if finished.is_ok() {
                if let Some(thread) = self.thread.take() {
                    let _ = thread.join();
                }
            }
        }
        self.dropped + self.queued - self.written.load(Ordering::Relaxed)
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

/// The daemon, as the launcher watches it: a child of this process, or,
/// without a subreaper, a pid held by a watch that says when it exits.
#[derive(Debug)]
struct Watched {
    pid: Pid,
    /// Its process group, whose id is the intermediate's pid: the session
    /// leader it was forked from. The helpers it starts are in it too.
    group: Pid,
    /// `None` for a child. Else a pidfd or a kqueue, readable once the pid
    /// has exited: until then the pid is the daemon's. Between that check
    /// and a signal, the daemon could exit and its pid be reused, a window
    /// that a child (which stays a zombie until reaped) does not have.
    watch: Option<ExitWatch>,
}

impl Watched {
    /// The daemon named by the intermediate's frame, if it is this process's
    /// child. Only this process reaps its children, so until it does, the
    /// pid cannot name anyone else.
    fn adopt(pid: i32, group: Pid) -> Option<Watched> {
        let watched = Watched {
            pid: Pid::from_raw(pid),
            group,
            watch: None,
        };
        (pid > 0 && watched.is_alive_or_zombie()).then_some(watched)
    }

    /// The daemon named by the intermediate's frame, watched while the
    /// intermediate still lives: a daemon that died meanwhile is its zombie,
    /// so the pid is still the daemon's when the watch is taken.
    fn watch(pid: i32, group: Pid) -> Option<Watched> {
        let pid = (pid > 0).then_some(Pid::from_raw(pid))?;
        let watch = ExitWatch::new(pid).ok()?;
        Some(Watched {
            pid,
            group,
            watch: Some(watch),
        })
    }

    /// The daemon, when its pid frame could not be read: the child of this
    /// process (a subreaper) in the process group of the intermediate, once
    /// that one has exited. `None` where children cannot be listed.
    fn find_child(group: Pid) -> Option<Watched> {
        sys::children()
            .ok()?
            .into_iter()
            .find(|&child| getpgid(Some(child)) == Ok(group))
            .and_then(|child| Watched::adopt(child.as_raw(), group))
    }

    /// A child, ended or not, or a watched pid that has not exited.
    fn is_alive_or_zombie(&self) -> bool {
        match &self.watch {
            None => loop {
                match sys::peek_child(self.pid) {
                    Err(Errno::EINTR) => {}
                    result => return result.is_ok(),
                }
            },
            Some(watch) => watch.is_running(),
        }
    }

    /// Sends `signal` to the daemon, and to its group while the daemon is
    /// still in it, which keeps the group's id from being reused. A daemon
    /// that left it (by a setsid of its own) may have left the id free for
    /// someone else's group.
    fn signal(&self, signal: Signal) {
        if !self.is_alive_or_zombie() {
            return;
        }
        if getpgid(Some(self.pid)) == Ok(self.group) {
            let _ = killpg(self.group, signal);
        }
        let _ = nix::sys::signal::kill(self.pid, signal);
    }

    /// Waits until the daemon ends, or `until` passes. A child that ended
    /// before it was ready takes its helpers with it: they are killed while
    /// it is still a zombie, so still in its group, and only then is it
    /// reaped. A watched pid ends with no status to read.
    fn wait(&self, until: Option<Instant>) -> Ending {
        if let Some(watch) = &self.watch {
            // A wait that failed says nothing more than "gone".
            return match watch.wait_until(until) {
                false if watch.is_running() => Ending::Running,
                _ => Ending::Gone,
            };
        }
        loop {
            match sys::peek_child(self.pid) {
                Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => {}
                Ok(status) => {
                    self.signal(Signal::SIGKILL);
                    while let Err(Errno::EINTR) = waitpid(self.pid, None) {}
                    return Ending::Status(status);
                }
                Err(_) => return Ending::Gone,
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
    daemon: &Watched,
    cause: Option<Cause>,
    deadline: Option<Instant>,
    timeout: Duration,
) -> Error {
    match daemon.wait(deadline) {
        Ending::Status(status) => Exit::from(status).error(cause),
        Ending::Gone => Error::ExitedWithoutStatus { cause },
        Ending::Running => stop(Some(daemon), timeout),
    }
}

/// Stops a daemon that missed its deadline, with its group: SIGTERM, then
/// SIGKILL after [`STOP_GRACE`]. `stopped` is false only when it could not
/// be seen to end, and then the pidfile is left to it.
fn stop(daemon: Option<&Watched>, timeout: Duration) -> Error {
    let stopped = match daemon {
        None => false,
        Some(daemon) => {
            daemon.signal(Signal::SIGTERM);
            match daemon.wait(Some(Instant::now() + STOP_GRACE)) {
                Ending::Running => {
                    daemon.signal(Signal::SIGKILL);
                    !matches!(
                        daemon.wait(Some(Instant::now() + STOP_GRACE)),
                        Ending::Running
                    )
                }
                _ => true,
            }
        }
    };
    Error::ReadyTimeout { timeout, stopped }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_child_of_this_process_is_adopted_and_signalled() {
        /// Killed by pid, even when an assertion fails.
        struct Guard(std::process::Child);
        impl Drop for Guard {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let mut guard = Guard(
            std::process::Command::new("sleep")
                .arg("1000")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
        let child = &mut guard.0;
        let group = nix::unistd::getpgrp();
        assert!(Watched::adopt(child.id() as i32, group).is_some());
        // This process, its parent and no process at all are not its children.
        let parent = nix::unistd::getppid().as_raw();
        for pid in [std::process::id() as i32, parent, 0, -1] {
            assert!(Watched::adopt(pid, group).is_none(), "pid {pid} adopted");
        }
        let watched = Watched {
            pid: Pid::from_raw(child.id() as i32),
            group,
            watch: None,
        };
        child.kill().unwrap();
        child.wait().unwrap();
        // Reaped: no longer a child, whoever gets the pid next.
        assert!(!watched.is_alive_or_zombie());
    }
}

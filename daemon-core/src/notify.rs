//! The daemon's line back to whoever started it: the launcher's pipe, or
//! systemd's notify socket. Behind [`ready`] and [`status`].

use std::cell::Cell;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;
use std::sync::{MutexGuard, PoisonError};
use std::time::Instant;

use std::io::Read;
use std::os::fd::AsFd;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::report::{Report, Sender};
use crate::state::{Pause, PROCESS};
use crate::sys;

/// The new process's side of the hand-over's commit (see `upgrade`).
pub(crate) struct PendingAck {
    /// The pipe the old process acks on, once it wrote this pid.
    pub(crate) ack: File,
    /// A copy of the locked pidfile, read when no ack comes.
    pub(crate) locked: Option<File>,
    /// The old process's pid.
    pub(crate) parent: i32,
    /// A watch on it (a pidfd or a kqueue), taken while it was the parent.
    pub(crate) parent_watch: Option<sys::ExitWatch>,
    /// The old process's deadline and the commit's grace: an old process
    /// that has neither acked nor refused by then is stuck (in its spawn,
    /// waiting for this one, say), and would never commit.
    pub(crate) deadline: Option<Instant>,
}

impl PendingAck {
    /// Waits for the old process's ack; whether this process is the daemon
    /// now, and owns the pidfile.
    fn wait(self) -> Taken {
        // Until the old process's deadline and the commit's grace: a commit
        // begun before that deadline has the grace to reach this process,
        // and none begins after it, so this one never leaves while an ack
        // may still come. Before then each real end is an event: the ack;
        // the pipe's end, which the old process makes when it refuses this
        // one (and then stops it); or the old process's death, on the
        // watch, for when a worker it forked keeps the pipe open.
        let mut byte = [0u8; 1];
        loop {
            let mut fds = vec![PollFd::new(self.ack.as_fd(), PollFlags::POLLIN)];
            if let Some(watch) = &self.parent_watch {
                fds.push(PollFd::new(watch.as_fd(), PollFlags::POLLIN));
            }
            let timeout = match self.deadline {
                None => PollTimeout::NONE,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    let millis = left.as_millis().min(i32::MAX as u128) as i32;
                    PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX)
                }
            };
            match poll(&mut fds, timeout) {
                Err(Errno::EINTR | Errno::EAGAIN) => continue,
                Err(_) | Ok(0) => break,
                Ok(_) => {}
            }
            let ack_ready = fds[0].any().unwrap_or(true);
            let parent_gone = fds.get(1).is_some_and(|fd| fd.any().unwrap_or(true));
            if !ack_ready {
                if parent_gone {
                    break;
                }
                continue;
            }
            match (&self.ack).read(&mut byte) {
                Ok(1) => return Taken::Acked,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The end, or an error: not a word from the old process.
                _ => break,
            }
        }
        // An old process that is alive and acked nothing refused this one:
        // whatever the pidfile says, which a commit cut short may have left
        // naming this one, and which it writes back. Its end closes the
        // pipe a moment before the kernel re-parents this process, so its
        // death is waited for a moment, on a watch.
        let alive = match &self.parent_watch {
            Some(watch) => {
                let moment = Instant::now() + std::time::Duration::from_millis(100);
                // Not exited by then, as the watch says: not a failed wait.
                !watch.wait_until(Some(moment)) && watch.is_running()
            }
            None => parent_alive(self.parent),
        };
        if alive {
            return Taken::Refused;
        }
        // The old process died. If it committed first (the pidfile names
        // this one), the hand-over happened.
        let me = std::process::id() as i32;
        let named = self
            .locked
            .as_ref()
            .and_then(crate::pidfile::first_line_pid);
        if named == Some(me) {
            Taken::Acked
        } else if self.locked.is_none() {
            // No pidfile names anyone: this ready process is all there is.
            Taken::Acked
        } else {
            Taken::Orphaned
        }
    }
}

enum Taken {
    Acked,
    Refused,
    Orphaned,
}

/// Whether the process that handed over is still this one's parent.
fn parent_alive(parent: i32) -> bool {
    nix::unistd::getppid().as_raw() == parent
}

pub(crate) fn take_over_at_ready(pending: PendingAck) {
    *PROCESS
        .take_over
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(pending);
}

/// Tells whoever started the daemon that it is ready: the launcher prints
/// nothing more and exits 0; under systemd, `READY=1` is sent.
///
/// Returns whether it was delivered: `false` when the launcher is gone, or
/// did not take it before its `ready_timeout` (it then stops the daemon),
/// or when systemd's socket refused it. Waiting for a launcher that does
/// not read is bounded by that same `ready_timeout`; a launcher that reads,
/// as daemonic's does, takes it at once.
///
/// In the new process of an [`upgrade`](crate::upgrade), it also waits for
/// the old process to take the hand-over; a new process that the old one
/// does not take (it was late, or the old one failed) exits here with
/// status 1, leaving the pidfile and the lock to the old one.
///
/// Safe from any thread or task, any number of times. Without a launcher
/// waiting (in the foreground, with `ready = "start"`, or after the first
/// call) it does nothing, and returns `true`.
pub fn ready() -> bool {
    // After an upgrade: this process is to live on once the old one exits,
    // so the parent-death signal goes first; a process that cannot clear
    // it is not the daemon, and the old one serves on.
    // Held until the take-over is settled: a second thread's ready() waits
    // for it, rather than say `true` of a process that may yet leave.
    let mut take_over = PROCESS
        .take_over
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let pending = take_over.take();
    if pending.is_some() {
        if let Err(e) = sys::set_parent_death_signal(0) {
            not_ready(format!("parent-death signal: {}", e.desc()));
            std::process::exit(1)
        }
        PROCESS.pause(Pause::BeforeReady);
    }
    // systemd first: after an upgrade, the old process sends MAINPID= once
    // it reads Ready, and systemd then has READY=1 from the new one already.
    let notified = notify_systemd("READY=1");
    // Out of the lock before the wait: a status line sent meanwhile from
    // another thread finds no launcher and returns at once.
    let launcher = launcher().take();
    let delivered = match launcher {
        Some(mut sender) => sender.flush_until(&Report::Ready),
        None => true,
    };
    if let Some(pending) = pending {
        match pending.wait() {
            Taken::Acked => PROCESS.note_took_over(),
            // The old process, alive, did not take this one: it never will
            // (it is late for it, or failed), and would stop it. It leaves
            // now, and the lock with it: a process that runs on here
            // would be a second daemon, named by nothing.
            Taken::Refused => {
                not_ready("the process that handed over did not take this one's ready");
                std::process::exit(1)
            }
            // The old process died before it handed over: the pidfile names
            // it, and this process was never the daemon. It leaves, and the
            // lock with it.
            Taken::Orphaned => {
                not_ready("the process that handed over exited before it took this one's ready");
                std::process::exit(1)
            }
        }
    }
    drop(take_over);
    notified && delivered
}

/// Sends one line to the launcher, which prints it on its own stdout, such
/// as `addr: 127.0.0.1:8080`; under systemd, it becomes `STATUS=...`.
///
/// It never blocks: a line that the launcher has not room for yet waits in
/// the daemon, up to 256 KiB, and past that it is dropped. A line is cut at
/// 64 KiB. Safe from any thread or task; a no-op when nobody listens, as
/// with [`ready`].
pub fn status(line: impl AsRef<str>) {
    let line = line.as_ref();
    if let Some(sender) = launcher().as_mut() {
        sender.send_now(&Report::Status(line.to_owned()));
    }
    if PROCESS.systemd.get().is_some() {
        // One line: a newline would start another assignment, `READY=1` say.
        notify_systemd(&format!("STATUS={}", line.replace('\n', " ")));
    }
}

/// Tells whoever started the daemon why it will not be ready, before it
/// exits: the launcher prints the reason with the exit status, in its one
/// line; under systemd, it becomes `STATUS=...`.
///
/// The attribute sends the error that `main` returns this way. Safe from any
/// thread; a no-op when nobody listens, as with [`ready`].
pub fn not_ready(reason: impl AsRef<str>) {
    // One line, for the launcher's one line and for systemd.
    let reason = reason
        .as_ref()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    // The daemon exits next: the reason must be in the pipe before.
    send_and_wait(&Report::NotReady(reason.clone()));
    notify_systemd(&format!("STATUS={reason}"));
}

/// Queues `report` and waits until it is in the pipe, or the launcher's
/// deadline, without holding the lock while it waits: [`status`] on other
/// threads goes on meanwhile, and never blocks. Whether it went.
fn send_and_wait(report: &Report) -> bool {
    let (pipe, deadline) = {
        let mut launcher = launcher();
        let Some(sender) = launcher.as_mut() else {
            return true;
        };
        sender.queue(report);
        sender.write_some();
        if let Some(delivered) = sender.settled() {
            return delivered;
        }
        match sender.waiter() {
            Some(waiter) => waiter,
            None => return false,
        }
    };
    loop {
        if sys::poll_until(pipe.as_fd(), PollFlags::POLLOUT, deadline) != Ok(true) {
            return false;
        }
        let mut launcher = launcher();
        // Taken by ready(), which sends what is queued, this too.
        let Some(sender) = launcher.as_mut() else {
            return true;
        };
        sender.write_some();
        if let Some(delivered) = sender.settled() {
            return delivered;
        }
    }
}

/// Sends one assignment of the sd_notify protocol, when systemd listens;
/// whether it was sent, or nobody listens.
pub(crate) fn notify_systemd(assignment: &str) -> bool {
    match PROCESS.systemd.get() {
        // A full socket buffer or a systemd gone: the daemon runs on regardless.
        Some(socket) => socket.send(format!("{assignment}\n").as_bytes()).is_ok(),
        None => true,
    }
}

/// Keeps the pipe open for [`ready`] and [`status`], and reports a panic
/// that happens before [`ready`]. `deadline` is the launcher's: past it,
/// nothing waits for the pipe any more.
pub(crate) fn attach_launcher(pipe: File, deadline: Option<Instant>) {
    *launcher() = Some(Sender::new(pipe, deadline));
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // A panic while this thread holds the lock (inside `status`, say)
        // must not wait for itself; another thread's hold ends soon.
        if !HOLDING.get() {
            let message = info.to_string().replace('\n', " ");
            send_and_wait(&Report::Panic(message));
        }
        previous(info);
    }));
}

/// Connects to systemd's notify socket: a path, or an abstract name after `@`.
pub(crate) fn attach_systemd(address: &OsStr) -> io::Result<()> {
    let socket = UnixDatagram::unbound()?;
    match address.as_bytes().strip_prefix(b"@") {
        Some(name) => {
            socket.connect_addr(&sys::abstract_address(name).map_err(io::Error::from)?)?
        }
        None => socket.connect(address)?,
    }
    let _ = PROCESS.systemd.set(socket);
    Ok(())
}

thread_local! {
    /// Whether this thread holds `PROCESS.launcher`'s lock.
    static HOLDING: Cell<bool> = const { Cell::new(false) };
}

/// The lock on `PROCESS.launcher`, marked as held by this thread while it lives.
struct Held(MutexGuard<'static, Option<Sender>>);

impl Drop for Held {
    fn drop(&mut self) {
        HOLDING.set(false);
    }
}

impl std::ops::Deref for Held {
    type Target = Option<Sender>;
    fn deref(&self) -> &Option<Sender> {
        &self.0
    }
}

impl std::ops::DerefMut for Held {
    fn deref_mut(&mut self) -> &mut Option<Sender> {
        &mut self.0
    }
}

fn launcher() -> Held {
    let guard = PROCESS
        .launcher
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    HOLDING.set(true);
    Held(guard)
}

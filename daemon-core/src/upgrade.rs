//! A zero-downtime upgrade: the running daemon starts its binary again, as
//! found on disk now, hands it its listening sockets, its locked pidfile and
//! a readiness pipe, and lets go only once the new process is ready.
//!
//! The new process does not detach again: it is already in the daemon's
//! session, and not a session leader. It holds the pidfile's lock through
//! the same open file as the old process, so the lock is never free.
//!
//! The hand-over is one commit, made by the old process: once it has taken
//! the new one's Ready, it writes the new pid into the pidfile (one `pwrite`,
//! then `ftruncate`), and only then acks it over a second pipe. So the
//! pidfile names the new process exactly when the old one has let go, and
//! `app upgrade` can take the one for the other. Until the ack, the new
//! process leaves the file alone; whatever fails before it, the old process
//! writes its own pid back and stops the new one.

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::libc;

use crate::activation::UPGRADE_ENV;
use crate::launcher::{self, Ended, Exit, STOP_GRACE};
use crate::pidfile::{PidWriter, Writers};
use crate::report::Reader;
use crate::state::{Pause, PROCESS};
use crate::{sys, Error};

/// How long past the `ready_timeout` the new process waits for its ack: the
/// old process begins a commit only before the deadline, and this is the
/// time it has to finish it (a pwrite, an ftruncate, a byte on a pipe).
pub(crate) const COMMIT_GRACE: Duration = Duration::from_secs(10);

/// What an upgrade needs to know of how the daemon was started.
#[derive(Debug)]
pub(crate) struct Origin {
    /// The binary's path: a binary replaced there since is the one that runs.
    pub(crate) exe: PathBuf,
    pub(crate) args: Vec<OsString>,
    /// The locked pidfile's fd, handed to the new process, and its path.
    pub(crate) pidfile: Option<RawFd>,
    pub(crate) pidfile_path: Option<PathBuf>,
    /// Whom the walk to the pidfile trusts.
    pub(crate) writers: Writers,
    /// Whether this process detached (its stdio on the log files), or runs
    /// in the foreground; the new process is as this one.
    pub(crate) detached: bool,
    pub(crate) ready_timeout: Duration,
    /// systemd's socket, for the new process's `READY=1`.
    pub(crate) notify_socket: Option<OsString>,
}

pub(crate) fn remember(origin: Origin) {
    let _ = PROCESS.origin.set(origin);
}

/// Starts the daemon's binary again, from the path it was started from,
/// with the same arguments, and hands it `listeners` (each with its name,
/// by the `sd_listen_fds` protocol), the locked pidfile and a readiness
/// pipe. Once the new process is ready, this one commits the hand-over: it
/// writes the new pid into the pidfile and tells the new process so.
/// Returns the new pid then: stop accepting, drain and exit; the pidfile is
/// the new process's, and this one's exit leaves it.
///
/// # Errors
///
/// If the new process exits, panics, misses `ready_timeout`, or the commit
/// fails, the new process is stopped (it alone), the pidfile names this
/// process again, this process serves on, and the error says why in the
/// launcher's words. One upgrade runs at a time: a second call meanwhile,
/// or any call after a hand-over, is [`Error::UpgradeRunning`]. Under its
/// own init, as PID 1 of a container, it is [`Error::UpgradeUnderInit`].
/// A pidfile this process cannot write (root's, after a user drop) fails it
/// before anything is started.
///
/// Call it from the daemon, typically on SIGUSR2, from a thread or a task,
/// never from a signal handler. Under systemd (`Type=notify`), it sends
/// `MAINPID=` with the new pid, which needs `NotifyAccess=all` in the unit.
pub fn upgrade(listeners: &[(&str, BorrowedFd<'_>)]) -> Result<u32, Error> {
    if PROCESS.handed_over() || PROCESS.upgrading.swap(true, Ordering::SeqCst) {
        return Err(Error::UpgradeRunning);
    }
    let outcome = run(listeners);
    PROCESS.upgrading.store(false, Ordering::SeqCst);
    outcome
}

fn run(listeners: &[(&str, BorrowedFd<'_>)]) -> Result<u32, Error> {
    let origin = PROCESS.origin.get().ok_or(Error::Unsupported {
        what: "an upgrade of a process that daemonic did not start",
    })?;
    // In a container, the orchestrator rolls out new versions: a second
    // program beside the first under one init would be neither's.
    if crate::init::under_init() {
        return Err(Error::UpgradeUnderInit);
    }
    // The writer first: a pidfile this process cannot write (root's, after
    // a user drop) fails the upgrade before anything is started.
    let writer = match (&origin.pidfile_path, origin.pidfile) {
        (Some(path), Some(locked)) => {
            // SAFETY: a borrowed view of the locked fd, which this process
            // keeps open for its whole life.
            let locked = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(locked) });
            Some(PidWriter::open(path, &locked, &origin.writers)?)
        }
        _ => None,
    };
    let (report_read, report_write) = sys::cloexec_pipe().map_err(|e| Error::Pipe(e as i32))?;
    let (ack_read, ack_write) = sys::cloexec_pipe().map_err(|e| Error::Pipe(e as i32))?;
    let mut child = spawn(origin, listeners, &report_write, &ack_read)?;
    drop(report_write);
    drop(ack_read);
    let deadline = Instant::now().checked_add(origin.ready_timeout);
    let pid = child.id();
    let outcome =
        await_ready(report_read, &mut child, deadline, origin.ready_timeout).and_then(|()| {
            commit(
                writer.as_ref(),
                &mut child,
                &ack_write,
                deadline,
                origin.ready_timeout,
            )
        });
    match outcome {
        Ok(()) => {
            PROCESS.handed_over.store(true, Ordering::SeqCst);
            crate::notify::notify_systemd(&format!("MAINPID={pid}"));
            Ok(pid)
        }
        Err(error) => {
            // The new process hears no ack: it leaves the file alone, and
            // is stopped. Then the file names this process again, whatever
            // a commit cut short left in it.
            drop(ack_write);
            stop(&mut child);
            // Tried twice; a file that cannot be written back names the
            // stopped process, and the error says so.
            let me = std::process::id();
            match writer
                .as_ref()
                .map(|writer| writer.write(me).or_else(|_| writer.write(me)))
            {
                Some(Err(unwritten)) => Err(Error::HandOver {
                    reason: format!(
                        "{error}; and this process's pid could not be written back: {unwritten}"
                    ),
                }),
                _ => Err(error),
            }
        }
    }
}

/// The hand-over's one step: the new pid into the pidfile, then the ack
/// that tells the new process the file is its own.
fn commit(
    writer: Option<&PidWriter>,
    child: &mut Child,
    ack: &OwnedFd,
    deadline: Option<Instant>,
    timeout: Duration,
) -> Result<(), Error> {
    // A Ready read past the deadline (the reader takes what the pipe holds
    // then) is not taken: the new process waits for the ack until this
    // deadline and [`COMMIT_GRACE`] more, so a commit begun by then has that
    // long to reach it.
    if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
        let stopped = stop(child);
        return Err(Error::ReadyTimeout { timeout, stopped });
    }
    PROCESS.pause(Pause::BeforeCommit);
    // A new process that died after its Ready is not the daemon.
    if let Ok(Some(status)) = child.try_wait() {
        return Err(Exit::from(status).error(None));
    }
    if let Some(writer) = writer {
        writer.commit(child.id())?;
    }
    // SIGPIPE stays ignored in the daemon (see `signals`): a new process
    // gone meanwhile is EPIPE here.
    loop {
        match nix::unistd::write(ack, b"1") {
            Ok(1) => return Ok(()),
            Err(Errno::EINTR) => {}
            Ok(_) => return Err(Error::Pipe(libc::EIO)),
            Err(e) => {
                return Err(Error::HandOver {
                    reason: format!(
                        "the new process, pid {}, did not take the ack: {}",
                        child.id(),
                        e.desc()
                    ),
                })
            }
        }
    }
}

/// The new process, with the fds in place: the listeners from 3, then the
/// pidfile, then the pipe; named in the environment.
fn spawn(
    origin: &Origin,
    listeners: &[(&str, BorrowedFd<'_>)],
    report: &OwnedFd,
    ack: &OwnedFd,
) -> Result<Child, Error> {
    let mut sources: Vec<RawFd> = listeners.iter().map(|(_, fd)| fd.as_raw_fd()).collect();
    let count = sources.len() as RawFd;
    let pidfile_target = origin.pidfile.map(|_| 3 + count);
    let report_target = 3 + count + RawFd::from(origin.pidfile.is_some());
    let ack_target = report_target + 1;
    sources.extend(origin.pidfile);
    sources.push(report.as_raw_fd());
    sources.push(ack.as_raw_fd());
    let names: Vec<&str> = listeners.iter().map(|(name, _)| *name).collect();
    if sources.len() > 64 {
        return Err(Error::HandOver {
            reason: format!("{} fds to hand over; at most 64", sources.len()),
        });
    }
    let mut command = Command::new(&origin.exe);
    if let Some((arg0, rest)) = origin.args.split_first() {
        command.arg0(arg0).args(rest);
    }
    command
        .env("LISTEN_FDS", count.to_string())
        .env("LISTEN_FDNAMES", names.join(":"))
        .env_remove("LISTEN_PID")
        .env(
            UPGRADE_ENV,
            format!(
                "{},{report_target},{ack_target},{},{}",
                pidfile_target.map_or(String::from("-"), |fd| fd.to_string()),
                std::process::id(),
                u8::from(origin.detached),
            ),
        );
    if let Some(address) = &origin.notify_socket {
        command.env("NOTIFY_SOCKET", address);
    }
    let first_free = ack_target + 1;
    // SAFETY: only async-signal-safe calls (fcntl, dup2, close,
    // sigprocmask), as a child of a threaded process may make.
    unsafe {
        command.pre_exec(move || {
            // Out of the way first: a source may sit on another's target.
            let mut moved = [0 as RawFd; 64];
            if sources.len() > moved.len() {
                return Err(std::io::Error::from_raw_os_error(libc::EMFILE));
            }
            for (i, &source) in sources.iter().enumerate() {
                let fd = libc::fcntl(source, libc::F_DUPFD, first_free);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                moved[i] = fd;
            }
            for (i, &fd) in moved[..sources.len()].iter().enumerate() {
                // dup2 clears FD_CLOEXEC on the target: these stay open.
                if libc::dup2(fd, 3 + i as RawFd) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
            }
            // If this process dies before the new one is ready, so does the
            // new one, which would otherwise hold the lock and the sockets
            // with nobody to hand them to. Cleared at its ready().
            if sys::set_parent_death_signal(libc::SIGKILL).is_err() {
                return Err(std::io::Error::last_os_error());
            }
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            Ok(())
        });
    }
    // std reports a failed exec through a pipe it opens before the fork, on
    // the lowest free fds: those must not be among the targets, which the
    // dup2s above would close under it. So the free ones are taken until
    // the spawn.
    let mut placeholders = Vec::new();
    for fd in 3..=ack_target {
        // SAFETY: F_GETFD only asks whether the number is open.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            if let Ok(null) = File::open("/dev/null") {
                placeholders.push(null);
            }
        }
    }
    // std's spawn panics when it cannot read its own exec-error pipe, after
    // it has waited for the child it forked: by then the child, refused
    // without an ack, has exited. That is a failed upgrade, not this
    // process's end.
    let spawned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| command.spawn()));
    drop(placeholders);
    match spawned {
        Ok(spawned) => spawned.map_err(|e| Error::Spawn {
            path: origin.exe.clone(),
            errno: sys::io_errno(e) as i32,
        }),
        Err(panic) => Err(Error::HandOver {
            reason: format!(
                "starting {}: {}",
                origin.exe.display(),
                panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("the spawn failed")
            ),
        }),
    }
}

/// The launcher's wait, for the new process: its report, its death, or the
/// deadline, then it alone is stopped.
fn await_ready(
    pipe: OwnedFd,
    child: &mut Child,
    deadline: Option<Instant>,
    timeout: Duration,
) -> Result<(), Error> {
    let mut reader = Reader::new(File::from(pipe));
    let mut cause = None;
    // Its status lines have no terminal to go to.
    let late = match launcher::read_frames(&mut reader, None, deadline, &mut cause, drop) {
        Ended::Ready => return Ok(()),
        Ended::Failed(error) => {
            stop(child);
            return Err(error);
        }
        Ended::Late => true,
        Ended::Silent => false,
        // Not a word about the new process, which may be ready: it is
        // stopped, and this process serves on.
        Ended::Broken(errno) => {
            let stopped = stop(child);
            return Err(Error::Report {
                errno: errno as i32,
                stopped,
            });
        }
    };
    drop(reader);
    if !late {
        if let Some(status) = wait(child, deadline) {
            return Err(Exit::from(status).error(cause));
        }
    }
    let stopped = stop(child);
    Err(Error::ReadyTimeout { timeout, stopped })
}

/// Stops the new process, its own child, and reaps it: SIGTERM, then SIGKILL.
fn stop(child: &mut Child) -> bool {
    // Reaped already: its pid may be another process's by now.
    if !matches!(child.try_wait(), Ok(None)) {
        return true;
    }
    let pid = child.id() as libc::pid_t;
    // SAFETY: plain integers; an unreaped child's pid is its own.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    if wait(child, Some(Instant::now() + STOP_GRACE)).is_some() {
        return true;
    }
    let _ = child.kill();
    wait(child, Some(Instant::now() + STOP_GRACE)).is_some()
}

/// The child's exit status, once it has exited, by `deadline` at the latest.
fn wait(child: &mut Child, deadline: Option<Instant>) -> Option<std::process::ExitStatus> {
    if let Ok(watch) = sys::ExitWatch::new(nix::unistd::Pid::from_raw(child.id() as i32)) {
        watch.wait_until(deadline);
    }
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => return None,
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return None;
        }
        thread::sleep(Duration::from_millis(2));
    }
}

/// In the new process: the fds the old one handed over, from `DAEMONIC_UPGRADE`.
pub(crate) struct HandOver {
    pub(crate) pidfile: Option<OwnedFd>,
    pub(crate) report: OwnedFd,
    /// Where the old process acks the commit: then the pidfile is this one's.
    pub(crate) ack: OwnedFd,
    /// The old process's pid.
    pub(crate) parent: i32,
    /// Whether the old process was detached: then stdio is on the log files.
    pub(crate) detached: bool,
}

/// Whether this process was started by an upgrade, to take over: then it
/// runs no `control` command, whatever its arguments say.
pub fn is_hand_over() -> bool {
    !sys::is_set_id() && std::env::var_os(UPGRADE_ENV).is_some()
}

/// Reads and removes the hand-over's variable; `None` when this process was
/// not started by an upgrade.
pub(crate) fn take_hand_over(
    single_threaded: impl FnOnce() -> bool,
) -> Option<Result<HandOver, Error>> {
    // A set-uid or set-gid process takes nothing from its environment
    // (`activation::take_from_env` removed the variable already).
    if sys::is_set_id() {
        return None;
    }
    let value = std::env::var(UPGRADE_ENV).ok()?;
    if single_threaded() {
        std::env::remove_var(UPGRADE_ENV);
    }
    let fields: Vec<&str> = value.split(',').collect();
    let parsed = match fields[..] {
        [pidfile, report, ack, parent, detached] => (|| {
            let pidfile = match pidfile {
                "-" => None,
                fd => Some(fd.parse::<RawFd>().ok()?),
            };
            Some((
                pidfile,
                report.parse::<RawFd>().ok()?,
                ack.parse::<RawFd>().ok()?,
                parent.parse::<i32>().ok()?,
                detached == "1",
            ))
        })(),
        _ => None,
    };
    let Some((pidfile, report, ack, parent, detached)) = parsed else {
        return Some(Err(Error::HandOver {
            reason: format!("{UPGRADE_ENV}={value:?} is not three fds, a pid and a flag"),
        }));
    };
    // The variable is for the process the old one started, not for any
    // program that inherits it: and that old process must still be there.
    if nix::unistd::getppid().as_raw() != parent {
        return Some(Err(Error::HandOver {
            reason: format!("the process that handed over, pid {parent}, is not this one's parent"),
        }));
    }
    let open = |fd: RawFd| -> Result<OwnedFd, Error> {
        // SAFETY: F_SETFD only sets a flag, on a number checked to be open.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
            return Err(Error::HandOver {
                reason: format!("fd {fd}: {}", Errno::last().desc()),
            });
        }
        // SAFETY: handed over to this process, and owned by nothing else here.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    };
    Some((|| {
        Ok(HandOver {
            pidfile: pidfile.map(open).transpose()?,
            report: open(report)?,
            ack: open(ack)?,
            parent,
            detached,
        })
    })())
}

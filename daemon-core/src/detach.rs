//! The detach sequence: the start in the launcher, the two forks and the
//! daemon's steps, the foreground path, and the take-over of an upgrade.

use std::env;
use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::Instant;

use nix::libc;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::stat::umask;
use nix::unistd::{chdir, chroot, fork, getpid, setsid, ForkResult};

use crate::builder::{Daemon, Plan, Readiness, FOREGROUND_ENV};
use crate::launcher::Handover;
use crate::pidfile::{Pidfile, Writers};
use crate::privileges::Credentials;
use crate::report::Report;
use crate::sys::{self, Snapshot};
use crate::upgrade::{self, HandOver};
use crate::{activation, fds, init, launcher, logs, notify, signals, timings, Error};

/// Set by systemd for a `Type=notify` service: the address of its socket.
const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// The running daemon's hold on its pidfile; dropping it removes the pidfile.
#[derive(Debug)]
#[must_use = "dropping it at once removes the pidfile while the daemon runs"]
pub struct Detached {
    pidfile: Option<Pidfile>,
}

impl Detached {
    /// The pidfile this daemon holds locked, made absolute.
    pub fn pidfile(&self) -> Option<&Path> {
        self.pidfile.as_ref().map(Pidfile::path)
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        // Only in the process that wrote its pid there: a worker forked
        // from the daemon, returning from main, leaves it to the daemon.
        if let Some(pidfile) = self.pidfile.take() {
            pidfile.release();
        }
    }
}

impl Daemon {
    /// Detaches the process and returns in the daemon.
    ///
    /// The calling process becomes the launcher: it waits for the daemon to
    /// report, then exits with status 0 once the daemon is running, and never
    /// returns from this call. When any step fails, in the launcher or in the
    /// daemon, the daemon exits, the pidfile is removed, and this call returns
    /// the error in the launcher.
    ///
    /// Relative paths are resolved against the current directory first. The
    /// process must be single-threaded: a threaded process is refused with
    /// [`Error::Threaded`] and nothing is forked.
    ///
    /// The process stays in the foreground when [`Daemon::enable`] is
    /// `false`, when [`FOREGROUND_ENV`] is `1`, or when `NOTIFY_SOCKET` is
    /// set: systemd started a `Type=notify` service and is its parent
    /// already, so [`ready`](crate::ready) and [`status`](crate::status) talk
    /// to systemd, through its socket connected here (a socket that cannot
    /// be reached is [`Error::NotifySocket`]), and `NOTIFY_SOCKET` is removed
    /// from the environment when the process has one thread (with more, a
    /// thread could be reading it). There the session, terminal, umask,
    /// stdio, fds and signals stay as they are; the pidfile is still locked
    /// and written, and the `chroot` (with the workdir inside it) and the
    /// change of user still happen.
    ///
    /// # Errors
    ///
    /// In the launcher, the first step that failed, each its own variant,
    /// whose `Display` is the line the attribute prints after `daemonic: `:
    /// an option's value ([`Error::Umask`], [`Error::EmptyPath`],
    /// [`Error::NulByte`], [`Error::KeepFd`]); the accounts
    /// ([`Error::UnknownUser`], [`Error::UnknownGroup`], [`Error::NotRoot`]);
    /// the checks before the fork ([`Error::Threaded`],
    /// [`Error::AlreadyRunning`], [`Error::PidfileUnsafe`],
    /// [`Error::Pidfile`], [`Error::NotifySocket`]); a step that failed in
    /// the daemon ([`Error::Workdir`], [`Error::Stdout`], [`Error::Chroot`],
    /// [`Error::Setuid`], ...); or the daemon's end before it was ready
    /// ([`Error::Exited`], [`Error::Killed`], [`Error::ReadyTimeout`], ...).
    /// In the foreground, the same checks and steps, in this process.
    ///
    /// # Safety
    ///
    /// The daemon closes every fd but stdio, the pidfile and
    /// [`Daemon::keep_fds`]. No object that owns another fd (a `File`, a
    /// socket, a static holding one) may be used or dropped afterwards in the
    /// daemon: its fd is closed, or by then a different file. Calling `start`
    /// as the first thing `main` does, as the attribute does, meets this.
    pub unsafe fn start(self) -> Result<Detached, Error> {
        timings::mark("start");
        // PID 1 of a namespace, a container's entrypoint: its own init is
        // forked off first, before anything is resolved, opened or locked,
        // and the program runs in the foreground under it (see `init`).
        let under_init = !upgrade::is_hand_over() && init::wanted();
        if under_init {
            // SAFETY: the first thing `start` does, under `start`'s contract.
            unsafe { init::split() }?;
        }
        timings::mark("init check");
        let mut plan = self.resolve()?;
        timings::mark("resolve");
        let single_threaded = || sys::take_snapshot().is_ok_and(|snapshot| snapshot.threads == 1);
        // Sockets handed down (socket activation, an upgrade) stay open.
        plan.keep_fds
            .extend(activation::take_from_env(single_threaded)?);
        // Empty is how a shell or a unit file says unset.
        let systemd = env::var_os(NOTIFY_SOCKET).filter(|address| !address.is_empty());
        if let Some(hand_over) = upgrade::take_hand_over(single_threaded) {
            return plan.take_over(hand_over, systemd);
        }
        if under_init
            || systemd.is_some()
            || !plan.enabled
            || env::var_os(FOREGROUND_ENV).is_some_and(|v| v == "1")
        {
            return plan.stay_in_foreground(systemd);
        }
        if let Some(credentials) = &plan.credentials {
            credentials.check_permitted()?;
        }
        timings::mark("foreground or not");
        let snapshot = sys::take_snapshot().map_err(|e| Error::CountThreads(e as i32))?;
        timings::mark("thread check");
        if snapshot.threads > 1 {
            return Err(Error::Threaded {
                threads: snapshot.threads,
            });
        }
        fds::fill_stdio().map_err(|e| Error::DevNull(e as i32))?;
        timings::mark("stdio filled");
        let mut pidfile = plan.lock_pidfile()?;
        // What a later upgrade needs, built here: in the daemon, a fresh
        // fork, the heap's first allocations cost copy-on-write faults, and
        // the daemon only stores it.
        let origin = plan.origin(pidfile.as_ref(), None, true);
        // The fds the daemon keeps, with room for the pipes and the
        // pidfile's two, for the same reason.
        let mut keep = Vec::with_capacity(plan.keep_fds.len() + 4);
        keep.extend_from_slice(&plan.keep_fds);
        timings::mark("pidfile locked");
        let discard = |pidfile: Option<Pidfile>| pidfile.map(Pidfile::remove);
        // The daemon is handed to the launcher when the intermediate process
        // exits, so that the launcher can see how it dies or stop it. Where
        // it cannot be (macOS), the intermediate stays until the launcher
        // watches the daemon's pid: the end of the `release` pipe lets it go.
        // Then a death is reported without its status.
        let previous_subreaper = sys::subreaper();
        let pipes = sys::cloexec_pipe().and_then(|report| {
            let release = match previous_subreaper {
                Some(_) => None,
                None => Some(sys::cloexec_pipe()?),
            };
            Ok((report, release))
        });
        let ((report_read, report_write), release) = match pipes {
            Ok(pipes) => pipes,
            Err(e) => {
                if let Some(previous) = previous_subreaper {
                    sys::restore_subreaper(previous);
                }
                discard(pidfile);
                return Err(Error::Pipe(e as i32));
            }
        };
        // An inherited SIG_IGN would have the kernel reap the daemon, and its
        // exit status with it. SAFETY: SIG_DFL installs no handler code.
        let sigchld = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
        let previous_sigchld = unsafe { sigaction(Signal::SIGCHLD, &sigchld) };
        let restore = || {
            if let Some(previous) = previous_subreaper {
                sys::restore_subreaper(previous);
            }
            if let Ok(previous) = &previous_sigchld {
                // SAFETY: puts back the disposition this process had.
                let _ = unsafe { sigaction(Signal::SIGCHLD, previous) };
            }
        };
        // Text printed before the detach must not be written again by the daemon.
        let _ = std::io::Write::flush(&mut std::io::stdout());
        // The launcher's and the daemon's: past it, the launcher stops the
        // daemon, and the daemon stops waiting for the launcher to read. One
        // too far to add to the clock, `Duration::MAX` say, is none.
        let deadline = Instant::now().checked_add(plan.ready_timeout);
        // SAFETY: the process has one thread (checked above), so the child
        // inherits no lock held by a thread that does not exist there.
        match unsafe { fork() } {
            Err(e) => {
                restore();
                discard(pidfile);
                Err(Error::Fork(e as i32))
            }
            Ok(ForkResult::Parent { child }) => {
                timings::mark("fork");
                drop(report_write);
                let handover = match release {
                    None => Handover::Reaper,
                    Some((_, release)) => Handover::Watch { release },
                };
                let outcome = launcher::await_ready(
                    File::from(report_read),
                    child,
                    deadline,
                    plan.ready_timeout,
                    handover,
                );
                // Put back for a launcher that returns the error; one that
                // exits takes its subreaper flag and SIGCHLD with it.
                if outcome.is_err() {
                    restore();
                }
                match outcome {
                    // _exit, as glibc's daemon() does in the parent: atexit
                    // handlers and C stdio buffers belong to the daemon,
                    // which runs on, not to this process.
                    Ok(()) => {
                        timings::mark("ready read");
                        timings::write_out();
                        let _ = std::io::Write::flush(&mut std::io::stdout());
                        // SAFETY: ends this process, which has nothing left to do.
                        unsafe { libc::_exit(0) }
                    }
                    // A daemon that may still run keeps its pidfile and lock.
                    Err(
                        error @ (Error::ReadyTimeout { stopped: false, .. }
                        | Error::Report { stopped: false, .. }),
                    ) => Err(error),
                    Err(error) => {
                        discard(pidfile);
                        Err(error)
                    }
                }
            }
            Ok(ForkResult::Child) => {
                timings::forked("intermediate");
                drop(report_read);
                let report = File::from(report_write);
                let released = release.map(|(released, _)| released);
                match plan.become_daemon(&report, pidfile.as_mut(), snapshot, released, keep) {
                    Ok(()) => {
                        match plan.readiness {
                            // A launcher killed meanwhile makes this fail
                            // with EPIPE; the daemon runs on regardless.
                            Readiness::Start => {
                                drop(Report::Ready.write_to(&report));
                                timings::mark("ready frame");
                                timings::write_out();
                            }
                            Readiness::Notify => notify::attach_launcher(report, deadline),
                        }
                        upgrade::remember(origin);
                        Ok(Detached { pidfile })
                    }
                    Err(error) => {
                        let _ = Report::Failed(error).write_to(&report);
                        // SAFETY: _exit skips the atexit handlers and stdio
                        // buffers that belong to the launcher.
                        unsafe { libc::_exit(1) }
                    }
                }
            }
        }
    }
}

/// Connects to systemd's notify socket, if there is one, and takes its
/// variable out of the environment.
fn attach_systemd(address: Option<&std::ffi::OsStr>) -> Result<(), Error> {
    let Some(address) = address else {
        return Ok(());
    };
    if !sys::SYSTEMD {
        return Err(Error::Unsupported {
            what: "NOTIFY_SOCKET, systemd's notify protocol,",
        });
    }
    notify::attach_systemd(address).map_err(|e| Error::NotifySocket {
        // An address too long for a socket is refused by std itself,
        // with no OS error.
        errno: e.raw_os_error().unwrap_or(libc::EINVAL),
        address: address.to_owned(),
    })?;
    // The socket is this process's: a program it starts must not take it
    // for a systemd parent of its own. Only with one thread, as another
    // could read the environment meanwhile.
    if sys::take_snapshot().is_ok_and(|snapshot| snapshot.threads == 1) {
        env::remove_var(NOTIFY_SOCKET);
    }
    Ok(())
}

impl Plan {
    /// Locks the pidfile, if there is one. Its directory may belong to the
    /// daemon's user as well as to this process's.
    fn lock_pidfile(&self) -> Result<Option<Pidfile>, Error> {
        let writers = self.writers();
        self.pidfile
            .as_deref()
            .map(|path| Pidfile::lock(path, &writers))
            .transpose()
    }

    /// Whom the walk to the pidfile trusts besides root and this user.
    fn writers(&self) -> Writers {
        self.credentials
            .as_ref()
            .map_or_else(Writers::default, Credentials::writers)
    }

    /// No fork, and the session, terminal, cwd, umask, stdio, fds and signals
    /// left as they are. The pidfile is still locked and written, and the
    /// `chroot` and the change of user still happen: a daemon configured to
    /// drop root must not keep it because it runs under systemd or a debugger.
    fn stay_in_foreground(self, systemd: Option<OsString>) -> Result<Detached, Error> {
        if let Some(credentials) = &self.credentials {
            credentials.check_permitted()?;
        }
        attach_systemd(systemd.as_deref())?;
        let mut pidfile = self.lock_pidfile()?;
        let confined = pidfile
            .as_mut()
            .map_or(Ok(()), |pidfile| {
                let written = pidfile.write_pid(getpid());
                pidfile.close_writer();
                written
            })
            .and_then(|()| self.confine());
        // The chroot hides the pidfile's path: a failure after it removes the
        // file through its directory, opened with it.
        if let Err(error) = confined {
            if let Some(pidfile) = pidfile {
                pidfile.remove();
            }
            return Err(error);
        }
        // And only then is the directory closed: an fd to a directory
        // outside the new root would be a way out of it.
        if let Some(pidfile) = pidfile.as_mut() {
            pidfile.close_directory();
        }
        upgrade::remember(self.origin(pidfile.as_ref(), systemd, false));
        if self.readiness == Readiness::Start {
            notify::ready();
        }
        Ok(Detached { pidfile })
    }

    /// The process an upgrade started: no detach, as it is already in the
    /// daemon's session, and neither chroot nor user, which it inherited.
    /// The signals are reset, the pipe to the old process becomes its link,
    /// and its pid goes into the handed pidfile at `ready()`.
    fn take_over(
        self,
        hand_over: Result<HandOver, Error>,
        systemd: Option<OsString>,
    ) -> Result<Detached, Error> {
        let hand_over = hand_over?;
        let report = File::from(hand_over.report);
        let detached = hand_over.detached;
        let taken = (|| {
            // The daemon it replaces dropped its user, and with it the
            // right of that user to read its fds; the exec gave it back.
            // First, before anything of the old process's is taken over.
            if self.credentials.is_some() {
                sys::set_undumpable().map_err(|e| Error::HandOver {
                    reason: format!("undumpable: {}", e.desc()),
                })?;
            }
            let snapshot = sys::take_snapshot().map_err(|e| Error::CountThreads(e as i32))?;
            // As the detach does: every fd but stdio and what was handed
            // over is closed, whatever the old process let through.
            if snapshot.threads == 1 {
                let mut keep = self.keep_fds.clone();
                keep.push(report.as_raw_fd());
                keep.push(hand_over.ack.as_raw_fd());
                keep.extend(hand_over.pidfile.as_ref().map(AsRawFd::as_raw_fd));
                // SAFETY: the start of main, with one thread: nothing owns
                // another fd yet.
                unsafe { fds::close_fds_except(&keep) }.map_err(|e| Error::CloseFds(e as i32))?;
            }
            signals::reset(snapshot.altered_signals)?;
            attach_systemd(systemd.as_deref())?;
            match (&self.pidfile, hand_over.pidfile) {
                (Some(path), Some(locked)) => {
                    Ok(Some(Pidfile::adopt(path, locked, &self.writers())?))
                }
                (None, None) => Ok(None),
                _ => Err(Error::HandOver {
                    reason: "the old process and this one disagree on the pidfile".to_owned(),
                }),
            }
        })();
        let pidfile = match taken {
            Ok(pidfile) => pidfile,
            Err(error) => {
                // The old process names the reason with the exit status.
                let _ = Report::NotReady(error.to_string()).write_to(&report);
                return Err(error);
            }
        };
        let pending = notify::PendingAck {
            ack: File::from(hand_over.ack),
            locked: pidfile.as_ref().and_then(Pidfile::locked_copy),
            parent: hand_over.parent,
            // Taken now, while the old process is this one's parent (the
            // hand-over checked it): the pid cannot name another yet.
            parent_watch: sys::ExitWatch::new(nix::unistd::Pid::from_raw(hand_over.parent)).ok(),
            deadline: Instant::now()
                .checked_add(self.ready_timeout)
                .and_then(|deadline| deadline.checked_add(upgrade::COMMIT_GRACE)),
        };
        notify::take_over_at_ready(pending);
        if hand_over.detached {
            logs::remember(self.stdout.clone(), self.stderr.clone());
        }
        let deadline = Instant::now().checked_add(self.ready_timeout);
        notify::attach_launcher(report, deadline);
        upgrade::remember(self.origin(pidfile.as_ref(), systemd, detached));
        if self.readiness == Readiness::Start {
            notify::ready();
        }
        Ok(Detached { pidfile })
    }

    /// What a later upgrade needs: the binary's path and arguments, as they
    /// were at the start, the locked pidfile's fd, and systemd's socket.
    fn origin(
        &self,
        pidfile: Option<&Pidfile>,
        notify_socket: Option<OsString>,
        detached: bool,
    ) -> upgrade::Origin {
        upgrade::Origin {
            exe: self.exe.clone(),
            args: self.args.clone(),
            pidfile: pidfile.map(Pidfile::locked_fd),
            pidfile_path: pidfile.map(|pidfile| pidfile.path().to_owned()),
            writers: pidfile.map_or_else(Writers::default, |pidfile| pidfile.writers().clone()),
            detached,
            ready_timeout: self.ready_timeout,
            notify_socket,
        }
    }

    /// In the foreground, the chroot (and the workdir inside it) and the
    /// change of credentials, as the daemon gets them.
    fn confine(&self) -> Result<(), Error> {
        if self.chroot.is_some() {
            self.enter_chroot()?;
            self.enter_workdir()?;
        }
        self.assume_credentials()
    }

    fn enter_chroot(&self) -> Result<(), Error> {
        match &self.chroot {
            Some(root) => chroot(root).map_err(|source| Error::Chroot {
                path: root.clone(),
                errno: source as i32,
            }),
            None => Ok(()),
        }
    }

    fn enter_workdir(&self) -> Result<(), Error> {
        chdir(&self.workdir).map_err(|source| Error::Workdir {
            path: self.workdir.clone(),
            errno: source as i32,
        })
    }

    fn assume_credentials(&self) -> Result<(), Error> {
        match &self.credentials {
            Some(credentials) => credentials.assume(),
            None => Ok(()),
        }
    }

    /// In the first child: `setsid`, the second fork, and the daemon's steps.
    /// `released` is the end of the launcher's `release` pipe, when the
    /// launcher must watch the daemon's pid before the intermediate exits.
    fn become_daemon(
        &self,
        report: &File,
        pidfile: Option<&mut Pidfile>,
        snapshot: Snapshot,
        released: Option<OwnedFd>,
        keep: Vec<RawFd>,
    ) -> Result<(), Error> {
        setsid().map_err(|e| Error::Setsid(e as i32))?;
        timings::mark("setsid");
        // Open until the intermediate process has written the daemon's pid:
        // the daemon waits for its end before it writes a frame of its own,
        // so that the pid frame is always the first in the pipe. Closed by
        // hand right after that frame, not by the intermediate's exit, which
        // would put a whole process teardown on the daemon's path.
        let (gate, gate_write) = sys::cloexec_pipe().map_err(|e| Error::Pipe(e as i32))?;
        // SAFETY: still single-threaded, as in the first fork.
        match unsafe { fork() }.map_err(|e| Error::Fork(e as i32))? {
            // The session leader leaves, so the daemon can never acquire a
            // controlling terminal. It reports the daemon's pid first, for
            // the launcher to wait for or to stop. SAFETY: see the failure
            // path of `start`.
            ForkResult::Parent { child } => unsafe {
                timings::mark("fork");
                let _ = Report::Pid(child.as_raw()).write_to(report);
                // Alive, a dead daemon stays its zombie, so the pid cannot
                // name anyone else before the launcher watches it. Without
                // a subreaper the gate stays shut until then too: a daemon
                // that wrote its end and exited before the watch was taken
                // would leave the launcher neither its status nor its cause.
                if let Some(released) = released {
                    wait_for_eof(released);
                }
                drop(gate_write);
                timings::mark("pid frame");
                timings::write_out();
                libc::_exit(0)
            },
            ForkResult::Child => timings::forked("daemon"),
        }
        drop(released);
        drop(gate_write);
        let steps = self.daemon_steps(report, pidfile, snapshot, &gate, keep);
        wait_for_eof(gate);
        timings::mark("pid frame gate");
        steps
    }

    /// The steps after the second fork, in the daemon.
    fn daemon_steps(
        &self,
        report: &File,
        mut pidfile: Option<&mut Pidfile>,
        snapshot: Snapshot,
        gate: &OwnedFd,
        mut keep: Vec<RawFd>,
    ) -> Result<(), Error> {
        umask(self.umask);
        // Log files and /dev/null are opened before the chroot, from the
        // host's tree, which the new root usually lacks.
        fds::redirect_stdio(
            self.stdout.as_deref(),
            self.stderr.as_deref(),
            self.credentials.as_ref(),
        )?;
        timings::mark("umask, stdio");
        logs::remember(self.stdout.clone(), self.stderr.clone());
        // The directory is the launcher's, to remove the file if this fails;
        // the daemon must not keep a way out of its chroot.
        if let Some(pidfile) = pidfile.as_mut() {
            pidfile.close_directory();
        }
        keep.push(report.as_raw_fd());
        keep.push(gate.as_raw_fd());
        keep.extend(pidfile.iter().flat_map(|pidfile| pidfile.raw_fds()));
        // Before the chroot: without close_range (old kernels, some seccomp
        // filters) the list comes from /proc/self/fd, which the new root lacks.
        // SAFETY: this is the fresh daemon; the Rust objects that own fds,
        // `report` and `pidfile`, are kept.
        unsafe { fds::close_fds_except(&keep) }.map_err(|e| Error::CloseFds(e as i32))?;
        timings::mark("fds closed");
        self.enter_chroot()?;
        self.enter_workdir()?;
        timings::mark("chroot, workdir");
        signals::reset(snapshot.altered_signals)?;
        timings::mark("signals reset");
        // Written while still privileged: the pidfile is root's when root
        // started us. Then the writer is closed, before the drop: the daemon
        // keeps only the read-only, locked fd.
        if let Some(pidfile) = pidfile.as_mut() {
            pidfile.write_pid(getpid())?;
            pidfile.close_writer();
            timings::mark("pid written");
        }
        self.assume_credentials()
    }
}

/// Reads `fd` until every writer has closed it.
fn wait_for_eof(fd: OwnedFd) {
    let mut gate = File::from(fd);
    let mut byte = [0u8; 1];
    loop {
        match gate.read(&mut byte) {
            // The end: every writer closed it (or it held a stray byte,
            // read past).
            Ok(0) => return,
            Ok(_) => {}
            // A signal is not the writer's end: the wait goes on.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // Nothing to wait on (EBADF, EIO): waiting longer would hang.
            Err(_) => return,
        }
    }
}

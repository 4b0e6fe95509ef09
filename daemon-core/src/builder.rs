//! The builder: [`Daemon`] and its setters, resolved into a checked [`Plan`].

use std::env;
use std::ffi::OsString;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::libc;
use nix::sys::stat::Mode;

use crate::control::{DEFAULT_RELOAD_SIGNAL, DEFAULT_STOP_TIMEOUT, DEFAULT_UPGRADE_SIGNAL};
use crate::privileges::{self, Account, Credentials};
use crate::{fds, sys, Error};

/// The umask a daemon gets when none is given: group and others may read, not write.
pub const DEFAULT_UMASK: u32 = 0o022;

/// How long the launcher waits for the daemon to be ready, as systemd's
/// `DefaultTimeoutStartSec`.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(90);

/// Set to `1`, this environment variable keeps the process in the
/// foreground whatever the configuration says, for debugging.
pub const FOREGROUND_ENV: &str = "DAEMONIC_FOREGROUND";

/// When the launcher lets go and exits 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Readiness {
    /// Once the daemon reaches the user's code: the detach succeeded.
    #[default]
    Start,
    /// Once the daemon calls [`ready`](crate::ready), for example after
    /// binding its port; until then, [`status`](crate::status) lines are
    /// printed by the launcher.
    Notify,
}

/// How to detach: a builder, finished by [`Daemon::start`].
///
/// ```no_run
/// let daemon = daemonic_core::Daemon::new()
///     .umask(0o027)
///     .workdir("/")
///     .pidfile("/tmp/app.pid");
/// // SAFETY: the first thing main does; nothing owns an fd yet.
/// let _running = unsafe { daemon.start() }.unwrap_or_else(|e| {
///     eprintln!("daemonic: {e}");
///     std::process::exit(1)
/// });
/// // Only the daemon gets here, detached; `_running` removes the pidfile when dropped.
/// ```
#[derive(Debug, Clone)]
#[must_use = "nothing happens until `start` is called"]
pub struct Daemon {
    pub(crate) umask: u32,
    pub(crate) workdir: PathBuf,
    pub(crate) pidfile: Option<PathBuf>,
    pub(crate) stdout: Option<PathBuf>,
    pub(crate) stderr: Option<PathBuf>,
    pub(crate) readiness: Readiness,
    pub(crate) ready_timeout: Duration,
    pub(crate) enabled: bool,
    pub(crate) user: Option<Account>,
    pub(crate) group: Option<Account>,
    pub(crate) chroot: Option<PathBuf>,
    pub(crate) keep_fds: Vec<RawFd>,
    pub(crate) stop_timeout: Duration,
    pub(crate) reload_signal: i32,
    pub(crate) upgrade_signal: i32,
}

impl Default for Daemon {
    fn default() -> Self {
        Daemon {
            umask: DEFAULT_UMASK,
            workdir: PathBuf::from("/"),
            pidfile: None,
            stdout: None,
            stderr: None,
            readiness: Readiness::Start,
            ready_timeout: DEFAULT_READY_TIMEOUT,
            enabled: true,
            user: None,
            group: None,
            chroot: None,
            keep_fds: Vec::new(),
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            reload_signal: DEFAULT_RELOAD_SIGNAL,
            upgrade_signal: DEFAULT_UPGRADE_SIGNAL,
        }
    }
}

impl Daemon {
    /// The defaults: umask [`DEFAULT_UMASK`], workdir `/`, no pidfile, stdio on /dev/null.
    pub fn new() -> Self {
        Daemon::default()
    }

    /// The daemon's umask, at most `0o777`; checked by [`Daemon::start`].
    pub fn umask(mut self, umask: u32) -> Self {
        self.umask = umask;
        self
    }

    /// The directory the daemon runs in; `/` by default, so it pins no mount.
    pub fn workdir(mut self, path: impl Into<PathBuf>) -> Self {
        self.workdir = path.into();
        self
    }

    /// A pidfile to create, lock for the daemon's life and remove when it is dropped.
    pub fn pidfile(mut self, path: impl Into<PathBuf>) -> Self {
        self.pidfile = Some(path.into());
        self
    }

    /// A file stdout is appended to, instead of /dev/null.
    pub fn stdout(mut self, path: impl Into<PathBuf>) -> Self {
        self.stdout = Some(path.into());
        self
    }

    /// A file stderr is appended to, instead of /dev/null.
    pub fn stderr(mut self, path: impl Into<PathBuf>) -> Self {
        self.stderr = Some(path.into());
        self
    }

    /// When the launcher exits 0; [`Readiness::Start`] by default.
    pub fn readiness(mut self, readiness: Readiness) -> Self {
        self.readiness = readiness;
        self
    }

    /// How long the launcher waits for the daemon to be ready, by default
    /// [`DEFAULT_READY_TIMEOUT`]. Past it, the launcher stops the daemon
    /// (SIGTERM, then SIGKILL two seconds later), removes the pidfile, and
    /// fails with [`Error::ReadyTimeout`].
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// Whether to detach at all; `true` by default. When `false`, the process
    /// stays in the foreground: see [`Daemon::start`] for what still applies.
    pub fn enable(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// The user the daemon runs as, by name or uid. By name, its supplementary
    /// groups are those of `initgroups`; by uid, they are cleared. Needs root.
    pub fn user(mut self, user: impl Into<Account>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// The group the daemon runs as; by default the user's primary group.
    pub fn group(mut self, group: impl Into<Account>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// A new root for the daemon, entered before the workdir, which is then a
    /// path inside it. The pidfile and the log files are opened before.
    pub fn chroot(mut self, path: impl Into<PathBuf>) -> Self {
        self.chroot = Some(path.into());
        self
    }

    /// File descriptors kept open through the detach, such as a socket bound
    /// before it; every other fd above stderr is closed.
    pub fn keep_fds(mut self, fds: impl IntoIterator<Item = RawFd>) -> Self {
        self.keep_fds.extend(fds);
        self
    }

    /// How long [`Daemon::stop`] waits after SIGTERM before it sends
    /// SIGKILL; [`DEFAULT_STOP_TIMEOUT`] by default.
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = timeout;
        self
    }

    /// The signal [`Daemon::reload`] sends, by number (`libc::SIGHUP`, or
    /// [`signal_number`](crate::signal_number)`("USR1")`); SIGHUP by default.
    pub fn reload_signal(mut self, signal: i32) -> Self {
        self.reload_signal = signal;
        self
    }

    /// The signal [`Daemon::request_upgrade`] sends; SIGUSR2 by default.
    pub fn upgrade_signal(mut self, signal: i32) -> Self {
        self.upgrade_signal = signal;
        self
    }

    /// The options checked, and their paths made absolute.
    pub(crate) fn resolve(self) -> Result<Plan, Error> {
        if self.umask > 0o777 {
            return Err(Error::Umask { umask: self.umask });
        }
        let credentials = privileges::resolve(self.user.as_ref(), self.group.as_ref())?;
        for &fd in &self.keep_fds {
            fds::check_keepable(fd)?;
        }
        let absolute = |option: &'static str, path: PathBuf| {
            if path.as_os_str().is_empty() {
                return Err(Error::EmptyPath { option });
            }
            refuse_nul(option, &path)?;
            std::path::absolute(path).map_err(|e| Error::CurrentDir(e.raw_os_error().unwrap_or(0)))
        };
        Ok(Plan {
            // Read now: the path, not the inode, is what an upgrade starts
            // again (see `sys::started_as` for when it is the exec's path).
            exe: sys::started_as()
                .or_else(|| env::current_exe().ok())
                .unwrap_or_default(),
            args: env::args_os().collect(),
            readiness: self.readiness,
            ready_timeout: self.ready_timeout,
            enabled: self.enabled,
            umask: Mode::from_bits_truncate(self.umask as libc::mode_t),
            // Inside a chroot, the workdir is a path of the new root.
            workdir: match &self.chroot {
                Some(_) if self.workdir.as_os_str().is_empty() => {
                    return Err(Error::EmptyPath { option: "workdir" })
                }
                Some(_) => {
                    refuse_nul("workdir", &self.workdir)?;
                    Path::new("/").join(self.workdir)
                }
                None => absolute("workdir", self.workdir)?,
            },
            chroot: self.chroot.map(|p| absolute("chroot", p)).transpose()?,
            credentials,
            keep_fds: self.keep_fds,
            pidfile: self.pidfile.map(|p| absolute("pidfile", p)).transpose()?,
            stdout: self.stdout.map(|p| absolute("stdout", p)).transpose()?,
            stderr: self.stderr.map(|p| absolute("stderr", p)).transpose()?,
        })
    }
}

/// A [`Daemon`] checked and with absolute paths, ready to run in the child.
pub(crate) struct Plan {
    /// The binary and the arguments, for an upgrade.
    pub(crate) exe: PathBuf,
    pub(crate) args: Vec<OsString>,
    pub(crate) chroot: Option<PathBuf>,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) keep_fds: Vec<RawFd>,
    pub(crate) readiness: Readiness,
    pub(crate) ready_timeout: Duration,
    pub(crate) enabled: bool,
    pub(crate) umask: Mode,
    pub(crate) workdir: PathBuf,
    pub(crate) pidfile: Option<PathBuf>,
    pub(crate) stdout: Option<PathBuf>,
    pub(crate) stderr: Option<PathBuf>,
}

/// A NUL byte would end the path early for the OS, which refuses it with a
/// bare EINVAL: name it instead.
pub(crate) fn refuse_nul(option: &'static str, path: &Path) -> Result<(), Error> {
    if path.as_os_str().as_bytes().contains(&0) {
        return Err(Error::NulByte {
            option,
            value: path.to_string_lossy().into_owned(),
        });
    }
    Ok(())
}

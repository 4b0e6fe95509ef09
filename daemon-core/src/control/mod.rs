//! The running daemon, operated from the same binary: who holds the
//! pidfile, and signalling or stopping exactly that process.
//!
//! The lock decides who runs, never the file's presence nor `kill(pid, 0)`.
//! Before anything is signalled, the pid read from the file is pinned (a
//! pidfd on Linux, a kqueue watch on FreeBSD and macOS), and then the file
//! is checked again: still locked, still naming that pid, and held open by
//! that process (Linux), whose uids the file's owner could signal. Only then
//! does the signal go, through the pidfd.

mod holder;
pub(crate) mod lsb;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use nix::libc;

pub(crate) use holder::{Found, Holder};

use crate::builder::{refuse_nul, Daemon};
use crate::pidfile::{Location, Writers};
use crate::privileges::{self, Credentials};
use crate::Error;

/// How long `stop` waits after SIGTERM before SIGKILL, by default.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The signal `reload` sends, by default.
pub const DEFAULT_RELOAD_SIGNAL: i32 = libc::SIGHUP;

/// The signal `upgrade` sends, by default, as nginx takes it.
pub const DEFAULT_UPGRADE_SIGNAL: i32 = libc::SIGUSR2;

/// The number of a signal named `SIGHUP` or `HUP` (any case), as the
/// `reload_signal` option takes it.
pub fn signal_number(name: &str) -> Option<i32> {
    let name = name.to_ascii_uppercase();
    let name = if name.starts_with("SIG") {
        name
    } else {
        format!("SIG{name}")
    };
    name.parse::<nix::sys::signal::Signal>()
        .ok()
        .map(|signal| signal as i32)
}

/// The command for this run, given by the `control` option.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Control {
    /// Start the daemon: the default.
    #[default]
    Start,
    /// Stop the running daemon: SIGTERM, then SIGKILL after `stop_timeout`.
    Stop,
    /// Say whether it runs, with the LSB exit codes.
    Status,
    /// Send it `reload_signal` (SIGHUP by default).
    Reload,
    /// Stop it, then start again in the same run.
    Restart,
    /// Send it `upgrade_signal` (SIGUSR2 by default), on which it calls
    /// [`upgrade`](crate::upgrade), and wait until the pidfile names a new
    /// pid that holds the lock.
    Upgrade,
}

impl Control {
    /// Every command, in the order the messages name them.
    pub const ALL: [Control; 6] = [
        Control::Start,
        Control::Stop,
        Control::Status,
        Control::Reload,
        Control::Restart,
        Control::Upgrade,
    ];

    /// The command's word, as it is typed.
    pub fn as_str(self) -> &'static str {
        match self {
            Control::Start => "start",
            Control::Stop => "stop",
            Control::Status => "status",
            Control::Reload => "reload",
            Control::Restart => "restart",
            Control::Upgrade => "upgrade",
        }
    }
}

impl Control {
    /// Writes the commands that `keep` keeps as a sentence's list:
    /// `a, b and c`.
    fn write_words(f: &mut fmt::Formatter<'_>, keep: impl Fn(Control) -> bool) -> fmt::Result {
        let words: Vec<Control> = Control::ALL.into_iter().filter(|c| keep(*c)).collect();
        for (i, command) in words.iter().enumerate() {
            let separator = match words.len() - i {
                _ if i == 0 => "",
                1 => " and ",
                _ => ", ",
            };
            write!(f, "{separator}{command}")?;
        }
        Ok(())
    }

    /// Every command, as messages list them: `start, stop, ... and upgrade`.
    pub(crate) fn write_list(f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Control::write_words(f, |_| true)
    }

    /// The commands that find the running daemon by its pidfile: all but `start`.
    pub(crate) fn write_acting_list(f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Control::write_words(f, |command| command != Control::Start)
    }
}

impl fmt::Display for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Control {
    type Err = Error;

    fn from_str(word: &str) -> Result<Control, Error> {
        Control::ALL
            .into_iter()
            .find(|command| command.as_str() == word)
            .ok_or_else(|| Error::UnknownCommand {
                word: word.to_owned(),
            })
    }
}

/// What the `control` option accepts: a [`Control`], a word (`&str`,
/// `String`), or an `Option` of one, where `None` means `start`. So
/// `control = std::env::args().nth(1)` reads naturally.
pub trait IntoControl {
    /// The command, or [`Error::UnknownCommand`].
    ///
    /// # Errors
    ///
    /// [`Error::UnknownCommand`] for a word that is not a command.
    fn into_control(self) -> Result<Control, Error>;
}

impl IntoControl for Control {
    fn into_control(self) -> Result<Control, Error> {
        Ok(self)
    }
}

impl IntoControl for &str {
    fn into_control(self) -> Result<Control, Error> {
        self.parse()
    }
}

impl IntoControl for String {
    fn into_control(self) -> Result<Control, Error> {
        self.parse()
    }
}

impl IntoControl for &String {
    fn into_control(self) -> Result<Control, Error> {
        self.parse()
    }
}

impl<T: IntoControl> IntoControl for Option<T> {
    fn into_control(self) -> Result<Control, Error> {
        self.map_or(Ok(Control::Start), IntoControl::into_control)
    }
}

/// Who runs, by the pidfile's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The process with this pid holds the pidfile locked.
    Running {
        /// Its pid.
        pid: u32,
    },
    /// The pidfile exists, but no process holds its lock.
    Stale {
        /// The pidfile.
        path: PathBuf,
    },
    /// There is no pidfile.
    NotRunning,
}

impl Status {
    /// The LSB init-script exit code of `status`: 0, 1 or 3.
    pub fn exit_code(&self) -> i32 {
        match self {
            Status::Running { .. } => 0,
            Status::Stale { .. } => 1,
            Status::NotRunning => 3,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Running { pid } => write!(f, "running (pid {pid})"),
            Status::Stale { path } => {
                write!(f, "not running, stale pidfile {}", path.display())
            }
            Status::NotRunning => f.write_str("not running"),
        }
    }
}

/// What `stop` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// Nothing ran.
    NotRunning,
    /// It ended after SIGTERM.
    Terminated {
        /// Its pid.
        pid: u32,
    },
    /// It ignored SIGTERM for `stop_timeout`, and ended after SIGKILL.
    Killed {
        /// Its pid.
        pid: u32,
    },
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stopped::NotRunning => f.write_str("not running"),
            Stopped::Terminated { pid } => write!(f, "stopped (pid {pid})"),
            Stopped::Killed { pid } => write!(f, "stopped (pid {pid}) with SIGKILL"),
        }
    }
}

impl Daemon {
    /// Who runs, by the pidfile's lock: [`Status::Running`] only for a
    /// process that holds the pidfile locked (and, on Linux, open), and
    /// whose user the pidfile's owner could signal.
    ///
    /// # Errors
    ///
    /// [`Error::PidfileUnsafe`] when the path to the pidfile, or the file,
    /// breaks the rules a start holds it to (see the security model in
    /// `daemonic`'s documentation); [`Error::NotHolder`] when the process it
    /// names is not believed; [`Error::Pidfile`] when it cannot be read;
    /// [`Error::NoPidfile`] when none was given; and the errors of the
    /// `user` and `group` lookups ([`Error::UnknownUser`], ...), whose
    /// directories the pidfile's may be.
    pub fn status(&self) -> Result<Status, Error> {
        match self.control_pidfile()? {
            Some((location, writers)) => {
                holder::find(&location, &writers).map(|found| found.status())
            }
            None => Ok(Status::NotRunning),
        }
    }

    /// Sends `signal` to the running daemon, through a pidfd (a kqueue watch
    /// on FreeBSD and macOS) taken before the pidfile is checked again, so a
    /// reused pid is never signalled. Its pid, or [`Error::NotRunning`].
    ///
    /// # Errors
    ///
    /// [`Error::NotRunning`] when no process holds the pidfile's lock;
    /// [`Error::Signal`] when the signal cannot be sent (EPERM: not
    /// allowed); and the errors of [`Daemon::status`], in finding the
    /// pidfile and believing its holder.
    pub fn signal(&self, signal: i32) -> Result<u32, Error> {
        let holder = self.holder()?;
        holder.signal(signal).map(|()| holder.pid())
    }

    /// Asks the running daemon to upgrade itself: sends it the
    /// `upgrade_signal`, on which it is to call [`upgrade`](crate::upgrade),
    /// and waits until the pidfile names a new pid that holds the lock,
    /// which the old process writes only once it has handed over. The old
    /// pid and the new.
    ///
    /// # Errors
    ///
    /// [`Error::SignalNotHandled`] (Linux) when the daemon would die of the
    /// signal, which is then not sent; [`Error::ExitedWithoutSuccessor`] as
    /// soon as the daemon exits with no successor; [`Error::NotUpgraded`]
    /// when none holds the pidfile by the `ready_timeout` and five seconds;
    /// otherwise those of [`Daemon::signal`].
    pub fn request_upgrade(&self) -> Result<(u32, u32), Error> {
        let Some((location, writers)) = self.control_pidfile()? else {
            return Err(Error::NotRunning);
        };
        let Found::Running(holder) = holder::find(&location, &writers)? else {
            return Err(Error::NotRunning);
        };
        holder.refuse_unhandled(self.upgrade_signal, "upgrade_signal")?;
        holder.signal(self.upgrade_signal)?;
        let old = holder.pid();
        let timeout = self.ready_timeout.saturating_add(Duration::from_secs(5));
        let deadline = Instant::now().checked_add(timeout);
        loop {
            // Looked at before the file: a commit just before the exit is
            // then seen by the look after it.
            let exited = holder.has_exited();
            if let Ok(Found::Running(new)) = holder::find(&location, &writers) {
                if new.pid() != old {
                    return Ok((old, new.pid()));
                }
            }
            if exited {
                return Err(Error::ExitedWithoutSuccessor { pid: old });
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Err(Error::NotUpgraded { pid: old, timeout });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// [`Daemon::signal`] with the `reload_signal`, unless the daemon would
    /// die of it.
    ///
    /// # Errors
    ///
    /// [`Error::SignalNotHandled`] (Linux) when the daemon neither catches,
    /// blocks nor ignores the signal: nothing is sent. Otherwise those of
    /// [`Daemon::signal`].
    pub fn reload(&self) -> Result<u32, Error> {
        let holder = self.holder()?;
        holder.refuse_unhandled(self.reload_signal, "reload_signal")?;
        holder.signal(self.reload_signal).map(|()| holder.pid())
    }

    /// Stops the running daemon: SIGTERM, then SIGKILL after the
    /// `stop_timeout`, each followed by a wait on the pidfd (no polling
    /// loop), until the process is gone and the lock free. If the daemon
    /// handed the pidfile to a new process meanwhile (an upgrade), that one
    /// is stopped too.
    ///
    /// # Errors
    ///
    /// [`Error::StillAlive`] when the process still runs after SIGKILL;
    /// [`Error::LockKept`] when it exited, but a process the pidfile does
    /// not name keeps the lock; [`Error::Signal`] when a signal cannot be
    /// sent (EPERM: not allowed); and the errors of [`Daemon::status`]. A
    /// daemon that does not run is no error: [`Stopped::NotRunning`].
    pub fn stop(&self) -> Result<Stopped, Error> {
        let Some((location, writers)) = self.control_pidfile()? else {
            return Ok(Stopped::NotRunning);
        };
        match holder::find(&location, &writers)? {
            Found::Running(holder) => holder.stop(self.stop_timeout, &location, &writers),
            Found::Stale(_) | Found::NotRunning => Ok(Stopped::NotRunning),
        }
    }

    /// The running daemon, pinned, or [`Error::NotRunning`].
    fn holder(&self) -> Result<Holder, Error> {
        let Some((location, writers)) = self.control_pidfile()? else {
            return Err(Error::NotRunning);
        };
        holder::find(&location, &writers)?
            .holder()
            .ok_or(Error::NotRunning)
    }

    /// The walk to the pidfile, by start's rules, and whom it trusts; `None`
    /// when a directory on the way does not exist, so neither does the file.
    fn control_pidfile(&self) -> Result<Option<(Location, Writers)>, Error> {
        let path = self.pidfile.as_ref().ok_or(Error::NoPidfile)?;
        refuse_nul("pidfile", path)?;
        let path = std::path::absolute(path)
            .map_err(|e| Error::CurrentDir(e.raw_os_error().unwrap_or(0)))?;
        let writers = privileges::resolve(self.user.as_ref(), self.group.as_ref())?
            .as_ref()
            .map_or_else(Writers::default, Credentials::writers);
        match Location::resolve(&path, &writers) {
            Ok(location) => Ok(Some((location, writers))),
            Err(Error::Pidfile {
                errno: libc::ENOENT,
                ..
            }) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_options_and_the_enum_give_the_command() {
        assert_eq!(None::<String>.into_control().unwrap(), Control::Start);
        assert_eq!(Some("stop").into_control().unwrap(), Control::Stop);
        assert_eq!("status".into_control().unwrap(), Control::Status);
        assert_eq!(
            String::from("reload").into_control().unwrap(),
            Control::Reload
        );
        assert_eq!(Control::Restart.into_control().unwrap(), Control::Restart);
        assert!(matches!(
            Some("strat".to_owned()).into_control(),
            Err(Error::UnknownCommand { word }) if word == "strat"
        ));
        assert_eq!(signal_number("usr1"), Some(libc::SIGUSR1));
        assert_eq!(signal_number("SIGHUP"), Some(libc::SIGHUP));
        assert_eq!(signal_number("SIGNOPE"), None);
    }
}

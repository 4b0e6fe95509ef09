//! The running daemon's process, found and pinned: the pidfile's lock
//! decides who runs, the pid is pinned before the file is checked again,
//! and only that process is signalled or stopped.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::libc;
use nix::sys::stat::fstat;
use nix::unistd::Pid;

use super::{Status, Stopped};
use crate::pidfile::{self, Location, Writers};
use crate::sys::{self, ExitWatch};
use crate::Error;

/// How long `stop` waits for the process to end after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// The process that holds the pidfile, pinned: the pid cannot be reused
/// under the watch.
pub(crate) struct Holder {
    watch: ExitWatch,
    file: File,
}

/// Who runs, for the pidfile at `location`, as the lock decides.
pub(crate) enum Found {
    /// This process holds the pidfile, and is pinned.
    Running(Holder),
    /// The pidfile exists, and nobody holds its lock.
    Stale(PathBuf),
    /// There is no pidfile.
    NotRunning,
}

impl Found {
    /// What `status` says of it.
    pub(crate) fn status(&self) -> Status {
        match self {
            Found::Running(holder) => Status::Running { pid: holder.pid() },
            Found::Stale(path) => Status::Stale { path: path.clone() },
            Found::NotRunning => Status::NotRunning,
        }
    }

    /// The holder, when one runs.
    pub(crate) fn holder(self) -> Option<Holder> {
        match self {
            Found::Running(holder) => Some(holder),
            Found::Stale(_) | Found::NotRunning => None,
        }
    }
}

/// Who runs, for the pidfile at `location`: decided by the lock.
pub(crate) fn find(location: &Location, writers: &Writers) -> Result<Found, Error> {
    find_with(location, writers, || {})
}

/// [`find`], with `between` run after the pid is pinned and before the
/// file is checked again: the tests change the file there.
pub(crate) fn find_with(
    location: &Location,
    writers: &Writers,
    mut between: impl FnMut(),
) -> Result<Found, Error> {
    let path = location.path();
    let unreadable = |source| Error::Pidfile {
        path: path.to_owned(),
        errno: source as i32,
    };
    // A file that changes under us (a daemon starting, stopping, upgrading)
    // is read again; a few times at most, a moment apart.
    let mut gone = None;
    for attempt in 0..10 {
        if attempt > 0 {
            thread::sleep(Duration::from_millis(2));
        }
        // Through the walk's directory fd, and held to start's rules: a
        // regular file with one link, owned by root, this user or the
        // daemon's.
        let Some(file) = pidfile::open_to_read(location, writers)? else {
            return Ok(Found::NotRunning);
        };
        if !pidfile::is_locked(&file).map_err(unreadable)? {
            return Ok(Found::Stale(path.to_owned()));
        }
        let Some(pid) = pidfile::read_pid(&file).map_err(unreadable)? else {
            // Locked and empty past the wait: a daemon that never wrote it.
            return Err(Error::PidfileUnsafe {
                path: path.to_owned(),
                reason: "it is locked but names no pid".to_owned(),
            });
        };
        let pid = Pid::from_raw(pid);
        let watch = match ExitWatch::new(pid) {
            Ok(watch) => watch,
            // Gone already: the file is being taken over, or lies. Again.
            Err(_) => {
                gone = Some(pid);
                continue;
            }
        };
        between();
        // The pid is pinned now: the file must still be locked, still be the
        // file at the path, and still name it.
        let same = pidfile::is_locked(&file).map_err(unreadable)?
            && pidfile::first_line_pid(&file) == Some(pid.as_raw())
            && location.names(&file);
        if !same {
            continue;
        }
        check_holder(path, &file, pid)?;
        return Ok(Found::Running(Holder { watch, file }));
    }
    Err(match gone {
        // Locked by someone, naming a process that does not run: a worker
        // that outlived its daemon holds the lock, say.
        Some(pid) => Error::NotHolder {
            path: path.to_owned(),
            pid: pid.as_raw() as u32,
            reason: "which does not run, though the pidfile is locked".to_owned(),
        },
        None => unreadable(Errno::EAGAIN),
    })
}

/// The lock's holder can lie: a daemon whose user may write the pidfile's
/// directory can write any pid there. So the named process must hold the
/// file open (read from `/proc` on Linux), and the file's owner must be one
/// who could signal that process: a root `stop` must not become a way for
/// a compromised daemon to kill a root process.
fn check_holder(path: &Path, file: &File, pid: Pid) -> Result<(), Error> {
    let refuse = |reason: String| Error::NotHolder {
        path: path.to_owned(),
        pid: pid.as_raw() as u32,
        reason,
    };
    let held = fstat(file.as_fd()).map_err(|source| Error::Pidfile {
        path: path.to_owned(),
        errno: source as i32,
    })?;
    match sys::holds_file(pid, held.st_dev as u64, held.st_ino as u64) {
        Ok(true) | Err(Errno::ENOSYS) => {}
        // Another user's process, whose fds only root may read: then kill(2)
        // holds this caller to the same rule, and answers EPERM.
        Err(Errno::EACCES) if !nix::unistd::geteuid().is_root() => {}
        Ok(false) => return Err(refuse("which does not hold it open".to_owned())),
        Err(e) => return Err(refuse(format!("which cannot be checked: {}", e.desc()))),
    }
    let owner = held.st_uid;
    let (real, saved) = sys::process_uids(pid)
        .map_err(|e| refuse(format!("whose user cannot be read: {}", e.desc())))?;
    // kill(2)'s rule, for the owner as the sender.
    if owner != 0 && owner != real && owner != saved {
        return Err(refuse(format!(
            "which runs as uid {real}, and uid {owner}, who owns the pidfile, could not signal it"
        )));
    }
    Ok(())
}

impl Holder {
    pub(crate) fn pid(&self) -> u32 {
        self.watch.pid().as_raw() as u32
    }

    /// Sends `signal` to the pinned process.
    pub(crate) fn signal(&self, signal: libc::c_int) -> Result<(), Error> {
        self.watch.signal(signal).map_err(|source| Error::Signal {
            pid: self.pid(),
            errno: source as i32,
        })
    }

    /// Refuses a signal the process would die of: one it neither catches,
    /// blocks nor ignores, and whose default action ends or stops it.
    /// Where that cannot be read (no `/proc`), the signal goes as asked.
    pub(crate) fn refuse_unhandled(
        &self,
        signal: libc::c_int,
        option: &'static str,
    ) -> Result<(), Error> {
        // Signals whose default action is to do nothing.
        let harmless = [libc::SIGCHLD, libc::SIGCONT, libc::SIGURG, libc::SIGWINCH];
        if signal == 0 || harmless.contains(&signal) {
            return Ok(());
        }
        match sys::handled_signals(self.watch.pid()) {
            Ok(handled) if !handled.contains(signal) => Err(Error::SignalNotHandled {
                pid: self.pid(),
                signal,
                option,
            }),
            _ => Ok(()),
        }
    }

    /// Whether the pinned process has exited, now.
    pub(crate) fn has_exited(&self) -> bool {
        self.watch.has_exited()
    }

    /// Waits until the process has exited, or `deadline` passes.
    fn wait_exit(&self, deadline: Instant) -> bool {
        // The watch polls readable once the process exits: no sleep loop.
        self.watch.wait_until(Some(deadline))
    }

    /// Waits until the lock is free, or `deadline` passes.
    fn wait_unlocked(&self, deadline: Instant) -> bool {
        loop {
            if !pidfile::is_locked(&self.file).unwrap_or(false) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// SIGTERM, a wait on the watch for `timeout`, then SIGKILL and another;
    /// what it took, once the process has exited.
    fn end(&self, timeout: Duration) -> Result<Stopped, Error> {
        let pid = self.pid();
        let sent = |signal| match self.signal(signal) {
            // Exited just now, before the signal.
            Err(Error::Signal {
                errno: libc::ESRCH, ..
            }) => Ok(()),
            other => other,
        };
        sent(libc::SIGTERM)?;
        if self.wait_exit(Instant::now() + timeout) {
            return Ok(Stopped::Terminated { pid });
        }
        sent(libc::SIGKILL)?;
        if self.wait_exit(Instant::now() + KILL_WAIT) {
            return Ok(Stopped::Killed { pid });
        }
        Err(Error::StillAlive { pid })
    }

    /// Stops the process, and then whoever holds the lock after it: an
    /// upgrade may have handed the pidfile to a new process meanwhile, and
    /// a stop that left that one running would not be a stop. At most
    /// [`HAND_OVERS`] successors; the last one stopped is what it returns.
    pub(crate) fn stop(
        self,
        timeout: Duration,
        location: &Location,
        writers: &Writers,
    ) -> Result<Stopped, Error> {
        let mut holder = self;
        let mut successors = 0;
        'holders: loop {
            let stopped = holder.end(timeout)?;
            // A worker it forked may hold the lock a while longer: waited
            // for, up to the `stop_timeout`, looking meanwhile for a
            // successor that the file names.
            let deadline = Instant::now() + timeout;
            loop {
                if holder.wait_unlocked(Instant::now() + LOCK_GRACE) {
                    return Ok(stopped);
                }
                if let Ok(Found::Running(next)) = find(location, writers) {
                    if next.pid() != holder.pid() && successors < HAND_OVERS {
                        successors += 1;
                        holder = next;
                        continue 'holders;
                    }
                }
                if Instant::now() >= deadline {
                    return Err(Error::LockKept {
                        pid: holder.pid(),
                        path: location.path().to_owned(),
                    });
                }
            }
        }
    }
}

/// How long a stopped daemon's lock may outlive it before `stop` looks
/// for a successor: a worker it forked lets go of it about then.
const LOCK_GRACE: Duration = Duration::from_millis(100);

/// How many successors (an upgrade's new process, its own upgrade's...)
/// one `stop` follows.
const HAND_OVERS: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::path::PathBuf;

    fn at(path: &Path) -> Location {
        Location::resolve(path, &Writers::default()).unwrap()
    }

    /// A pidfile locked by this process, through a description of its own,
    /// naming this process: the holder that `find` sees.
    fn held_pidfile(dir: &Path) -> (PathBuf, File) {
        let path = dir.join("app.pid");
        let mut file = File::create(&path).unwrap();
        writeln!(file, "{}", std::process::id()).unwrap();
        // SAFETY: flock on an fd that `file` keeps open.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_eq!(locked, 0);
        (path, file)
    }

    #[test]
    fn the_lock_is_checked_again_after_the_pid_is_pinned() {
        let dir = std::env::temp_dir().join(format!("daemonic-control-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (path, holder) = held_pidfile(&dir);
        assert!(matches!(
            find(&at(&path), &Writers::default()),
            Ok(Found::Running(_))
        ));

        // Between the pin and the second look, the holder lets go: the
        // daemon exited, its pid may be reused. Nobody is to be signalled.
        // Unlocked, not just closed: a child that another test forks at that
        // moment shares the description, and would hold the lock on.
        let found = find_with(&at(&path), &Writers::default(), || {
            // SAFETY: flock on an fd that `holder` keeps open.
            unsafe { libc::flock(holder.as_raw_fd(), libc::LOCK_UN) };
        })
        .unwrap();
        assert_eq!(found.status(), Status::Stale { path: path.clone() });
        assert!(found.holder().is_none());

        // Between the two, the file is replaced by one naming another pid.
        let (path, _holder) = held_pidfile(&dir);
        let mut swapped = false;
        let found = find_with(&at(&path), &Writers::default(), || {
            if !swapped {
                swapped = true;
                std::fs::write(&path, "1\n").unwrap();
            }
        });
        // Read again: now it names pid 1, which does not hold it open.
        assert!(
            matches!(found, Err(Error::NotHolder { pid: 1, .. })),
            "{:?}",
            found.map(|found| found.status())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_swapped_in_at_the_path_naming_the_same_pid_is_not_believed() {
        let dir = std::env::temp_dir().join(format!("daemonic-swap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (path, _holder) = held_pidfile(&dir);
        // Between the pin and the second look, a fresh file, unlocked and
        // naming the same pid, is renamed over the path: the locked file
        // is no longer the pidfile, and the fresh one says nobody runs.
        let fresh = dir.join("fresh");
        let mut swapped = false;
        let found = find_with(&at(&path), &Writers::default(), || {
            if !swapped {
                swapped = true;
                std::fs::write(&fresh, format!("{}\n", std::process::id())).unwrap();
                std::fs::rename(&fresh, &path).unwrap();
            }
        })
        .unwrap();
        assert_eq!(found.status(), Status::Stale { path: path.clone() });
        assert!(found.holder().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_locked_pidfile_naming_no_process_is_named_as_such() {
        let dir = std::env::temp_dir().join(format!("daemonic-gone-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (path, _holder) = held_pidfile(&dir);
        // A pid that no process has, in a file whose lock is held.
        std::fs::write(&path, format!("{}\n", i32::MAX)).unwrap();
        let found = find(&at(&path), &Writers::default());
        assert!(
            matches!(&found, Err(Error::NotHolder { pid, .. }) if *pid == i32::MAX as u32),
            "{:?}",
            found.map(|found| found.status())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! The pidfile: locked by the launcher before the first fork, written and kept by the daemon.
//!
//! The `flock` is taken on an open file description that the fork hands down,
//! so the lock passes from the launcher to the daemon without ever being free:
//! a second start is refused before it forks anything. That description is
//! read-only: the pid goes through a second, write-only one, closed before
//! the daemon drops its privileges, so a daemon running as another user
//! cannot rewrite a pidfile that root reads.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{fchmod, fstat, Mode, SFlag};
use nix::unistd::{ftruncate, getpid, Pid};

use crate::state::{Pause, PROCESS};
use crate::Error;

mod path;
pub(crate) use path::{Location, Writers};

/// How long a reader waits for a pidfile that is locked but holds no whole
/// line yet: a daemon between its launcher's lock and its own write.
const PID_WAIT: Duration = Duration::from_secs(2);

/// How many times the path may change under a start before it gives up:
/// someone who may write the directory could otherwise keep it busy.
const ATTEMPTS: usize = 100;

/// A locked pidfile; the lock lasts as long as any process holds this open file.
#[derive(Debug)]
pub(crate) struct Pidfile {
    path: PathBuf,
    /// Read-only, and locked: what the daemon keeps.
    file: File,
    /// Write-only, for the pid, until [`Pidfile::close_writer`].
    writer: Option<File>,
    /// The walk's end, the directory open: the launcher removes the very
    /// file it locked through it, even if a directory above is swapped,
    /// and from inside a chroot; closed by [`Pidfile::close_directory`].
    location: Option<Location>,
    /// Who may own the directories on the path, for a walk at the exit.
    writers: Writers,
    /// The process that wrote its pid here: the only one that removes it.
    written_by: Option<Pid>,
    /// Empty since the lock: the pid's `pwrite` needs no `ftruncate` after.
    empty: bool,
}

impl Pidfile {
    /// Walks to `path` (see [`Location::resolve`]), then opens and locks the
    /// file there, truncated and waiting for [`Pidfile::write_pid`].
    pub(crate) fn lock(path: &Path, writers: &Writers) -> Result<Pidfile, Error> {
        let location = Location::resolve(path, writers)?;
        crate::timings::mark("pidfile: path walked");
        let fail = |source| Error::Pidfile {
            path: path.to_owned(),
            errno: source as i32,
        };
        for _ in 0..ATTEMPTS {
            let (file, created) = match open_or_create(&location) {
                Ok(opened) => opened,
                Err(e) => return Err(refuse_symlink(&location, e)),
            };
            crate::timings::mark("pidfile: opened");
            // Unlinked by a daemon exiting since our open: start over.
            if fstat(file.as_fd()).is_ok_and(|held| held.st_nlink == 0) {
                continue;
            }
            // A file this start created and could not make its own is not left
            // behind; one that another start holds is theirs.
            let discard_created = || {
                if created {
                    location.unlink_if_names(&file);
                }
            };
            // Created as another owner, by an NFS root_squash say.
            if let Err(error) = refuse_foreign(&file, path, writers) {
                discard_created();
                return Err(error);
            }
            let discard = |source| {
                discard_created();
                fail(source)
            };
            match lock_exclusive(&file) {
                Ok(()) => crate::timings::mark("pidfile: flock"),
                Err(Errno::EWOULDBLOCK) => {
                    return Err(Error::AlreadyRunning {
                        path: path.to_owned(),
                        pid: read_pid(&file).ok().flatten().map(|pid| pid as u32),
                    })
                }
                Err(e) => return Err(discard(e)),
            }
            // A daemon that was exiting may have unlinked the name between
            // our open and our lock: then we locked an orphan inode, so
            // start over.
            if !location.names(&file) {
                continue;
            }
            // A second description, write-only, for the pid: the locked one
            // stays read-only, and is all that the daemon keeps.
            let writer = match location.open(OFlag::O_WRONLY | OFlag::O_NONBLOCK, Mode::empty()) {
                Ok(fd) => File::from(fd),
                Err(e) => return Err(discard(e)),
            };
            if !same_file(&file, &writer) {
                continue;
            }
            crate::timings::mark("pidfile: writer opened");
            // Emptied, and 0644 whatever the launcher's umask (supervisors
            // read it): each call made only when the file is not so already,
            // as a file this start created is.
            let held = fstat(writer.as_fd()).map_err(discard)?;
            if held.st_size != 0 {
                ftruncate(&writer, 0).map_err(discard)?;
            }
            if held.st_mode & 0o7777 != 0o644 {
                fchmod(&file, Mode::from_bits_truncate(0o644)).map_err(discard)?;
            }
            return Ok(Pidfile {
                path: path.to_owned(),
                file,
                writer: Some(writer),
                location: Some(location),
                writers: writers.clone(),
                written_by: None,
                empty: true,
            });
        }
        Err(fail(Errno::EAGAIN))
    }

    /// Records `pid`, followed by a newline, as the whole content, and `pid`
    /// as the process that removes the file.
    pub(crate) fn write_pid(&mut self, pid: Pid) -> Result<(), Error> {
        let written = match &self.writer {
            // Empty since the lock, which this process holds: one `pwrite`.
            Some(writer) if self.empty => write_pid_at_start(writer, pid.as_raw()).map(drop),
            Some(writer) => write_pid_into(writer, pid.as_raw(), || {}),
            None => Err(Errno::EBADF),
        };
        self.empty = false;
        written.map_err(|source| Error::Pidfile {
            path: self.path.clone(),
            errno: source as i32,
        })?;
        self.written_by = Some(pid);
        Ok(())
    }

    /// Closes the write-only fd: after it, this process can no longer change
    /// what the file says, whatever user it becomes.
    pub(crate) fn close_writer(&mut self) {
        self.writer = None;
    }

    /// Closes the directory fd: in the daemon, which must not keep a way
    /// out of a chroot, nor an fd that the detach closes under it.
    pub(crate) fn close_directory(&mut self) {
        self.location = None;
    }

    /// Unlinks the file if its name still names the inode we hold locked:
    /// through the directory while it is open (the launcher, whose start
    /// failed), else through a new walk to it, by the same rules.
    pub(crate) fn remove(self) {
        let location = match self.location {
            Some(location) => location,
            None => match Location::resolve(&self.path, &self.writers) {
                Ok(location) => location,
                Err(_) => return,
            },
        };
        location.unlink_if_names(&self.file);
    }

    /// [`Pidfile::remove`], only in the process that wrote its pid there: a
    /// worker forked from the daemon, returning from `main`, leaves it be.
    pub(crate) fn release(self) {
        // After an upgrade, the file is the new process's.
        if PROCESS.handed_over() {
            return;
        }
        let me = getpid();
        // And only while it names this process: a new process that an
        // upgrade of this one started leaves it alone until it is the daemon.
        let owns = self.written_by == Some(me) || PROCESS.took_over();
        if owns && first_line_pid(&self.file) == Some(me.as_raw()) {
            self.remove();
        }
    }

    /// The pidfile an upgrade handed over, locked already: `locked` must be
    /// the file that a walk to `path` finds now.
    pub(crate) fn adopt(path: &Path, locked: OwnedFd, writers: &Writers) -> Result<Pidfile, Error> {
        let file = File::from(locked);
        let location = Location::resolve(path, writers)?;
        if !location.names(&file) {
            return Err(Error::HandOver {
                reason: format!("the pidfile handed over is not {}", path.display()),
            });
        }
        Ok(Pidfile {
            path: path.to_owned(),
            file,
            writer: None,
            location: None,
            writers: writers.clone(),
            written_by: None,
            empty: false,
        })
    }

    /// The locked fd, handed to the process an upgrade starts.
    pub(crate) fn locked_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// A copy of the locked fd, read by a new process waiting for its ack.
    pub(crate) fn locked_copy(&self) -> Option<File> {
        self.file.try_clone().ok()
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn writers(&self) -> &Writers {
        &self.writers
    }

    /// The fds to keep open through the detach: the locked one, and the
    /// writer while it is open.
    pub(crate) fn raw_fds(&self) -> impl Iterator<Item = RawFd> + '_ {
        std::iter::once(self.file.as_raw_fd()).chain(self.writer.as_ref().map(AsRawFd::as_raw_fd))
    }
}

/// The pidfile as `status`, `stop`, `reload` and `upgrade` read it: opened
/// through the walk, and held to start's rules. `None` when there is none.
pub(crate) fn open_to_read(location: &Location, writers: &Writers) -> Result<Option<File>, Error> {
    let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK;
    let file = match location.open(flags, Mode::empty()) {
        Ok(fd) => File::from(fd),
        Err(Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(refuse_symlink(location, e)),
    };
    refuse_foreign(&file, location.path(), writers)?;
    Ok(Some(file))
}

/// The write-only side of a pidfile that this process holds locked, for an
/// upgrade: the old process writes the new one's pid at the hand-over, or
/// its own back.
#[derive(Debug)]
pub(crate) struct PidWriter {
    writer: File,
    path: PathBuf,
}

impl PidWriter {
    /// Opens the file a walk to `path` finds, checked to be `locked`.
    pub(crate) fn open(path: &Path, locked: &File, writers: &Writers) -> Result<PidWriter, Error> {
        let location = Location::resolve(path, writers)?;
        let writer = location
            .open(OFlag::O_WRONLY | OFlag::O_NONBLOCK, Mode::empty())
            .map_err(|e| refuse_symlink(&location, e))?;
        let writer = File::from(writer);
        if !same_file(locked, &writer) {
            return Err(Error::HandOver {
                reason: format!(
                    "{} is no longer the file whose lock this process holds",
                    path.display()
                ),
            });
        }
        Ok(PidWriter {
            writer,
            path: path.to_owned(),
        })
    }

    /// `pid` and a newline, as the whole content.
    pub(crate) fn write(&self, pid: u32) -> Result<(), Error> {
        write_pid_into(&self.writer, pid as i32, || {}).map_err(|source| Error::Pidfile {
            path: self.path.clone(),
            errno: source as i32,
        })
    }

    /// [`PidWriter::write`] of the new process's pid, the hand-over's commit.
    pub(crate) fn commit(&self, pid: u32) -> Result<(), Error> {
        let between = || PROCESS.pause(Pause::BetweenPidWrites);
        write_pid_into(&self.writer, pid as i32, between).map_err(|source| Error::Pidfile {
            path: self.path.clone(),
            errno: source as i32,
        })
    }
}

/// One `pwrite` at offset 0, then `ftruncate` to its length: a reader sees
/// the old pid or the new one on the first line, never an empty file.
/// `pid` and a newline at offset 0, whole: the content of a file that was
/// empty. Its length, for the `ftruncate` that a file not known empty needs.
fn write_pid_at_start(writer: &File, pid: i32) -> Result<usize, Errno> {
    // On the stack, not `format!`: this runs in the fresh daemon, where the
    // heap's first allocation costs copy-on-write faults.
    let mut line = [0u8; 12];
    let mut start = line.len() - 1;
    line[start] = b'\n';
    let mut rest = pid.unsigned_abs();
    loop {
        start -= 1;
        line[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if pid < 0 {
        start -= 1;
        line[start] = b'-';
    }
    let content = &line[start..];
    let written = loop {
        match writer.write_at(content, 0) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            other => break other,
        }
    };
    match written {
        Ok(n) if n == content.len() => Ok(n),
        // A short write of a few bytes at offset 0: the disk is full, say.
        Ok(_) => Err(Errno::ENOSPC),
        Err(e) => Err(crate::sys::io_errno(e)),
    }
}

fn write_pid_into(writer: &File, pid: i32, between: impl FnOnce()) -> Result<(), Errno> {
    let content = write_pid_at_start(writer, pid)?;
    between();
    loop {
        match ftruncate(writer, content as i64) {
            Err(Errno::EINTR) => {}
            other => return other,
        }
    }
}

/// The pid on the file's first line, once it holds a whole one: a pidfile
/// that is locked but empty is a daemon starting, waited for a moment.
/// `Ok(None)` when no whole line names a pid by then; a failed read is its
/// error, not a verdict on the file.
pub(crate) fn read_pid(file: &File) -> Result<Option<i32>, Errno> {
    let deadline = Instant::now() + PID_WAIT;
    loop {
        if let Some(pid) = read_first_line(file)? {
            return Ok(pid);
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// The pid on the first line now, without waiting.
pub(crate) fn first_line_pid(file: &File) -> Option<i32> {
    first_line(file).flatten()
}

/// `None` while there is no whole first line (or it cannot be read); then
/// the pid it names, if it names one.
fn first_line(file: &File) -> Option<Option<i32>> {
    read_first_line(file).ok().flatten()
}

fn read_first_line(file: &File) -> Result<Option<Option<i32>>, Errno> {
    let mut buf = [0u8; 32];
    let len = loop {
        match file.read_at(&mut buf, 0) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            other => break other.map_err(crate::sys::io_errno)?,
        }
    };
    let Some(end) = buf[..len].iter().position(|&b| b == b'\n') else {
        return Ok(None);
    };
    Ok(Some(
        std::str::from_utf8(&buf[..end])
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .filter(|&pid: &i32| pid > 0),
    ))
}

/// Whether some process holds an exclusive lock on the file. Probed with a
/// shared lock, released at once: a start that meets it in that moment
/// tries again (see [`lock_exclusive`]), so it does not fail for it.
pub(crate) fn is_locked(file: &File) -> Result<bool, Errno> {
    use nix::libc::{flock, LOCK_NB, LOCK_SH, LOCK_UN};
    // SAFETY: flock on an fd that `file` keeps open.
    let probed = unsafe { flock(file.as_raw_fd(), LOCK_SH | LOCK_NB) };
    match Errno::result(probed) {
        Ok(_) => {
            // SAFETY: as above.
            unsafe { flock(file.as_raw_fd(), LOCK_UN) };
            Ok(false)
        }
        Err(Errno::EWOULDBLOCK) => Ok(true),
        Err(e) => Err(e),
    }
}

/// An open that met a symlink at the name is said so; other errors as they are.
fn refuse_symlink(location: &Location, error: Errno) -> Error {
    let is_symlink = location
        .stat()
        .is_ok_and(|st| path::file_type(&st) == SFlag::S_IFLNK);
    if error == Errno::ELOOP && is_symlink {
        return Error::PidfileUnsafe {
            path: location.path().to_owned(),
            reason: "it is a symbolic link".to_owned(),
        };
    }
    Error::Pidfile {
        path: location.path().to_owned(),
        errno: error as i32,
    }
}

/// A pidfile that another user owns, or that is not a plain file with one
/// name, could be rewritten behind the daemon's back to make a supervisor
/// signal some other process. Root, the invoking user and the daemon's own
/// user may own it: in its own directory that user could replace the file
/// anyway, and a stale one it left there is taken over.
fn refuse_foreign(file: &File, path: &Path, writers: &Writers) -> Result<(), Error> {
    let held = fstat(file.as_fd()).map_err(|source| Error::Pidfile {
        path: path.to_owned(),
        errno: source as i32,
    })?;
    let reason = if path::file_type(&held) != SFlag::S_IFREG {
        "it is not a regular file".to_owned()
    } else if !writers.trusts_uid(held.st_uid) {
        format!(
            "it belongs to uid {}, not to uid {} that runs this",
            held.st_uid,
            nix::unistd::geteuid()
        )
    } else if held.st_nlink != 1 {
        format!("it has {} hard links", held.st_nlink)
    } else {
        return Ok(());
    };
    Err(Error::PidfileUnsafe {
        path: path.to_owned(),
        reason,
    })
}

/// Opens the pidfile, creating it if need be, and says whether this call
/// created it.
fn open_or_create(location: &Location) -> Result<(File, bool), Errno> {
    // O_NONBLOCK: a FIFO planted at the path opens at once, and is refused
    // as not a regular file, instead of holding the launcher forever.
    let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK;
    let mode = Mode::from_bits_truncate(0o644);
    for _ in 0..ATTEMPTS {
        match location.open(flags | OFlag::O_CREAT | OFlag::O_EXCL, mode) {
            Ok(fd) => return Ok((File::from(fd), true)),
            Err(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
        match location.open(flags, mode) {
            Ok(fd) => return Ok((File::from(fd), false)),
            // Removed between the two opens, by a daemon exiting: try again.
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
    }
    Err(Errno::EAGAIN)
}

/// The lock, tried again for a moment if it is held: `status` and `stop`
/// probe it with a shared lock, released at once, and a start that meets
/// that probe must not report the daemon as running.
fn lock_exclusive(file: &File) -> Result<(), Errno> {
    for _ in 0..PROBE_RETRIES {
        match flock_exclusive_nonblocking(file) {
            Err(Errno::EWOULDBLOCK) => thread::sleep(Duration::from_millis(1)),
            other => return other,
        }
    }
    flock_exclusive_nonblocking(file)
}

/// How many times, a millisecond apart, a held lock is tried again.
const PROBE_RETRIES: usize = 10;

fn flock_exclusive_nonblocking(file: &File) -> Result<(), Errno> {
    // nix's `Flock` unlocks on drop, which would release the lock the daemon
    // inherited as soon as the launcher drops its copy; the raw call does not.
    // SAFETY: flock only reads the fd, which `file` keeps open.
    Errno::result(unsafe {
        nix::libc::flock(file.as_raw_fd(), nix::libc::LOCK_EX | nix::libc::LOCK_NB)
    })
    .map(drop)
}

pub(crate) fn same_file(one: &File, other: &File) -> bool {
    match (fstat(one.as_fd()), fstat(other.as_fd())) {
        (Ok(one), Ok(other)) => one.st_dev == other.st_dev && one.st_ino == other.st_ino,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_is_written_as_its_digits_and_a_newline() {
        let path = std::env::temp_dir().join(format!("daemonic-digits-{}", std::process::id()));
        for pid in [1, 7, 42, 4_194_304, i32::MAX] {
            let file = File::create(&path).unwrap();
            let len = write_pid_at_start(&file, pid).unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{pid}\n"));
            assert_eq!(len, format!("{pid}\n").len());
        }
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn the_first_line_names_the_pid_whatever_a_longer_one_left_after_it() {
        let dir = std::env::temp_dir().join(format!("daemonic-line-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("app.pid");
        std::fs::write(&path, "123456\n").unwrap();
        let writer = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let reader = File::open(&path).unwrap();
        // Between the pwrite and the ftruncate, as a crash would leave it.
        writer.write_at(b"789\n", 0).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "789\n56\n");
        assert_eq!(first_line_pid(&reader), Some(789));
        write_pid_into(&writer, 42, || {}).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "42\n");
        std::fs::write(&path, "").unwrap();
        assert_eq!(first_line(&reader), None);
        std::fs::write(&path, "12").unwrap();
        assert_eq!(first_line(&reader), None);
        std::fs::write(&path, "x\n").unwrap();
        assert_eq!(first_line(&reader), Some(None));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

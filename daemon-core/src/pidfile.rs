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
use nix::fcntl::{open, AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstat, fstatat, lstat, stat, Mode, SFlag};
use nix::unistd::{ftruncate, getegid, geteuid, getpid, unlink, unlinkat, Pid, UnlinkatFlags};

use crate::{sys, Error};

/// How long a refused start waits for the running daemon to write its pid.
const HOLDER_PID_WAIT: Duration = Duration::from_secs(2);

/// How many times the path may change under a start before it gives up:
/// someone who may write the directory could otherwise keep it busy.
const ATTEMPTS: usize = 100;

/// The pidfile's directory, open while a start in a chroot may still fail,
/// and never longer: an fd to a directory outside the new root is a way out
/// of it.
#[derive(Debug)]
pub(crate) struct Directory(OwnedFd);

/// A locked pidfile; the lock lasts as long as any process holds this open file.
#[derive(Debug)]
pub(crate) struct Pidfile {
    path: PathBuf,
    /// Read-only, and locked: what the daemon keeps.
    file: File,
    /// Write-only, for the pid, until [`Pidfile::close_writer`].
    writer: Option<File>,
    /// The directory, opened with the file, so that the launcher removes the
    /// very file it locked even if a directory above it is swapped, and from
    /// inside a chroot; closed by [`Pidfile::close_directory`].
    directory: Option<Directory>,
    /// The process that wrote its pid here: the only one that removes it.
    written_by: Option<Pid>,
}

/// Who may write the pidfile's directory without anyone else being able to
/// replace the file: root, the user and group that run this, and those the
/// daemon drops to, which own the daemon anyway.
#[derive(Debug, Default)]
pub(crate) struct Writers {
    pub(crate) uids: Vec<u32>,
    pub(crate) gids: Vec<u32>,
}

impl Pidfile {
    /// Opens and locks `path`, truncated and waiting for [`Pidfile::write_pid`].
    pub(crate) fn lock(path: &Path, writers: &Writers) -> Result<Pidfile, Error> {
        let fail = |source| Error::Pidfile {
            path: path.to_owned(),
            source,
        };
        refuse_shared_directory(path, writers)?;
        for _ in 0..ATTEMPTS {
            let (file, created) = match open_or_create(path) {
                Ok(opened) => opened,
                Err(Errno::ELOOP) if is_symlink(path) => {
                    return Err(Error::PidfileUnsafe {
                        path: path.to_owned(),
                        reason: "it is a symbolic link".to_owned(),
                    })
                }
                Err(e) => return Err(fail(e)),
            };
            // Unlinked by a daemon exiting since our open: start over.
            if fstat(file.as_fd()).is_ok_and(|held| held.st_nlink == 0) {
                continue;
            }
            // A file this start created and could not make its own is not left
            // behind; one that another start holds is theirs.
            let discard_created = || {
                if created && refers_to(&file, path) {
                    let _ = unlink(path);
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
                Ok(()) => {}
                Err(Errno::EWOULDBLOCK) => {
                    return Err(Error::AlreadyRunning {
                        path: path.to_owned(),
                        pid: holder_pid(&file),
                    })
                }
                Err(e) => return Err(discard(e)),
            }
            // A daemon that was exiting may have unlinked the path between our
            // open and our lock: then we locked an orphan inode, so start over.
            if !refers_to(&file, path) {
                continue;
            }
            // The writer is opened by the path again, so it is checked to be
            // the very file locked; if not, the path was swapped meanwhile.
            let writer = match open(
                path,
                OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => File::from(fd),
                Err(e) => return Err(discard(e)),
            };
            if !same_file(&file, &writer) {
                continue;
            }
            ftruncate(&writer, 0).map_err(discard)?;
            // 0644 whatever the launcher's umask: supervisors read it.
            fchmod(&file, Mode::from_bits_truncate(0o644)).map_err(discard)?;
            let directory = path
                .parent()
                .and_then(|parent| sys::open_directory(parent).ok())
                .map(Directory);
            return Ok(Pidfile {
                path: path.to_owned(),
                file,
                writer: Some(writer),
                directory,
                written_by: None,
            });
        }
        Err(fail(Errno::EAGAIN))
    }

    /// Records `pid`, followed by a newline, as the whole content, and `pid`
    /// as the process that removes the file.
    pub(crate) fn write_pid(&mut self, pid: Pid) -> Result<(), Error> {
        let content = format!("{pid}\n");
        let written = match &self.writer {
            Some(writer) => writer.write_all_at(content.as_bytes(), 0),
            None => Err(std::io::Error::from_raw_os_error(Errno::EBADF as i32)),
        };
        written.map_err(|e| Error::Pidfile {
            path: self.path.clone(),
            source: Errno::from_raw(e.raw_os_error().unwrap_or(0)),
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
        self.directory = None;
    }

    /// Unlinks the file if its name still names the inode we hold locked:
    /// through the directory while it is open (the launcher, whose start
    /// failed), else by the path.
    pub(crate) fn remove(self) {
        let Some(directory) = &self.directory else {
            if refers_to(&self.file, &self.path) {
                let _ = unlink(&self.path);
            }
            return;
        };
        let Some(name) = self.path.file_name() else {
            return;
        };
        let named = fstatat(&directory.0, name, AtFlags::AT_SYMLINK_NOFOLLOW);
        if let (Ok(held), Ok(named)) = (fstat(self.file.as_fd()), named) {
            if held.st_dev == named.st_dev && held.st_ino == named.st_ino {
                let _ = unlinkat(&directory.0, name, UnlinkatFlags::NoRemoveDir);
            }
        }
    }

    /// [`Pidfile::remove`], only in the process that wrote its pid there: a
    /// worker forked from the daemon, returning from `main`, leaves it be.
    pub(crate) fn release(self) {
        // After an upgrade, the file is the new process's.
        if crate::upgrade::handed_over() {
            return;
        }
        let me = getpid();
        // And only while it names this process: an upgrade's new process
        // may have written its own between its ready() and our hearing of it.
        let names_me = || {
            let mut buf = [0u8; 32];
            let len = self.file.read_at(&mut buf, 0).unwrap_or(0);
            std::str::from_utf8(&buf[..len]).is_ok_and(|text| text.trim() == me.to_string())
        };
        if (self.written_by == Some(me) || crate::upgrade::wrote_pid_at_ready()) && names_me() {
            self.remove();
        }
    }

    /// The pidfile an upgrade handed over, locked already: `locked` must be
    /// the file at `path`.
    pub(crate) fn adopt(path: &Path, locked: OwnedFd) -> Result<Pidfile, Error> {
        let file = File::from(locked);
        if !refers_to(&file, path) {
            return Err(Error::HandOver {
                reason: format!("the pidfile handed over is not {}", path.display()),
            });
        }
        Ok(Pidfile {
            path: path.to_owned(),
            file,
            writer: None,
            directory: None,
            written_by: None,
        })
    }

    /// The locked fd, handed to the process an upgrade starts.
    pub(crate) fn locked_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// A copy of the locked fd, for the pid write at `ready()` after an upgrade.
    pub(crate) fn locked_copy(&self) -> Option<File> {
        self.file.try_clone().ok()
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The fds to keep open through the detach: the locked one, and the
    /// writer while it is open.
    pub(crate) fn raw_fds(&self) -> impl Iterator<Item = RawFd> + '_ {
        std::iter::once(self.file.as_raw_fd()).chain(self.writer.as_ref().map(AsRawFd::as_raw_fd))
    }
}

/// In a directory that someone other than `writers` may write, that someone
/// can swap the pidfile for their own between two starts: its owner always,
/// and, without the sticky bit, its group and others when they may write.
fn refuse_shared_directory(path: &Path, writers: &Writers) -> Result<(), Error> {
    let Some(dir) = path.parent() else {
        return Ok(());
    };
    let Ok(dir_stat) = stat(dir) else {
        // A missing directory fails the open, with its own error.
        return Ok(());
    };
    let mode = Mode::from_bits_truncate(dir_stat.st_mode);
    let sticky = mode.contains(Mode::S_ISVTX);
    let trusted_uid =
        |uid: u32| uid == 0 || uid == geteuid().as_raw() || writers.uids.contains(&uid);
    let trusted_gid =
        |gid: u32| gid == 0 || gid == getegid().as_raw() || writers.gids.contains(&gid);
    let dir = dir.display();
    let reason = if mode.contains(Mode::S_IWOTH) && !sticky {
        format!(
            "its directory {dir} is writable by others and not sticky, so anyone could replace it"
        )
    } else if !trusted_uid(dir_stat.st_uid) {
        format!(
            "its directory {dir} belongs to uid {}, who could replace it",
            dir_stat.st_uid
        )
    } else if mode.contains(Mode::S_IWGRP) && !sticky && !trusted_gid(dir_stat.st_gid) {
        format!(
            "its directory {dir} is writable by group {} and not sticky, so its members could \
             replace it",
            dir_stat.st_gid
        )
    } else {
        return Ok(());
    };
    Err(Error::PidfileUnsafe {
        path: path.to_owned(),
        reason,
    })
}

/// A pidfile that another user owns, or that is not a plain file with one
/// name, could be rewritten behind the daemon's back to make a supervisor
/// signal some other process. The daemon's own user may own it: in its own
/// directory it could replace the file anyway, and a stale one it left there
/// is taken over.
fn refuse_foreign(file: &File, path: &Path, writers: &Writers) -> Result<(), Error> {
    let held = fstat(file.as_fd()).map_err(|source| Error::Pidfile {
        path: path.to_owned(),
        source,
    })?;
    let euid = geteuid().as_raw();
    let reason = if SFlag::from_bits_truncate(held.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        "it is not a regular file".to_owned()
    } else if held.st_uid != euid && !writers.uids.contains(&held.st_uid) {
        format!(
            "it belongs to uid {}, not to uid {euid} that runs this",
            held.st_uid
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
fn open_or_create(path: &Path) -> Result<(File, bool), Errno> {
    // O_NONBLOCK: a FIFO planted at the path opens at once, and is refused
    // as not a regular file, instead of holding the launcher forever.
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let mode = Mode::from_bits_truncate(0o644);
    for _ in 0..ATTEMPTS {
        match open(path, flags | OFlag::O_CREAT | OFlag::O_EXCL, mode) {
            Ok(fd) => return Ok((File::from(fd), true)),
            Err(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
        match open(path, flags, mode) {
            Ok(fd) => return Ok((File::from(fd), false)),
            // Removed between the two opens, by a daemon exiting: try again.
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
    }
    Err(Errno::EAGAIN)
}

fn is_symlink(path: &Path) -> bool {
    lstat(path)
        .is_ok_and(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK)
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

/// The running daemon's pid, as it writes it; the file is empty for the short
/// time between its launcher's lock and its own write.
fn holder_pid(file: &File) -> Option<i32> {
    let deadline = Instant::now() + HOLDER_PID_WAIT;
    loop {
        let mut buf = [0u8; 32];
        let len = file.read_at(&mut buf, 0).ok()?;
        let text = std::str::from_utf8(&buf[..len]).ok()?;
        if text.ends_with('\n') {
            return text.trim().parse().ok();
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

fn same_file(one: &File, other: &File) -> bool {
    match (fstat(one.as_fd()), fstat(other.as_fd())) {
        (Ok(one), Ok(other)) => one.st_dev == other.st_dev && one.st_ino == other.st_ino,
        _ => false,
    }
}

fn refers_to(file: &File, path: &Path) -> bool {
    match (fstat(file.as_fd()), lstat(path)) {
        (Ok(held), Ok(named)) => held.st_dev == named.st_dev && held.st_ino == named.st_ino,
        _ => false,
    }
}

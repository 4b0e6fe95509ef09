//! The pidfile's path, walked once from `/`, a directory fd at a time, so
//! that a directory or a symlink swapped on it cannot send the pidfile's
//! I/O anywhere else.
//!
//! `O_NOFOLLOW` guards only the last component. Here each directory is
//! opened relative to the one before with `O_NOFOLLOW | O_DIRECTORY`, and
//! checked as it is opened: a symlink on the way is followed only where no
//! one but root or the invoking user could have made it (`/var/run -> /run`),
//! and every directory walked must be one that only root, the invoking user
//! or the daemon's user and group could change. The walk ends with the
//! pidfile's directory open: every later open, lock, read, check and unlink
//! goes through that fd, by the file's name alone.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fstat, fstatat, FileStat, Mode, SFlag};
use nix::unistd::{getegid, geteuid};

use crate::{sys, Error};

/// As the kernel's own limit on symlinks in one lookup (`MAXSYMLINKS`).
const MAX_SYMLINKS: usize = 40;

/// Who may change a directory on the pidfile's path, or own the pidfile,
/// without that being an attack: besides root and the user that runs this,
/// the user and group the daemon drops to, which own the daemon anyway.
#[derive(Debug, Default, Clone)]
pub(crate) struct Writers {
    pub(crate) uids: Vec<u32>,
    pub(crate) gids: Vec<u32>,
}

impl Writers {
    /// Root, the invoking user, or the daemon's.
    pub(crate) fn trusts_uid(&self, uid: u32) -> bool {
        uid == 0 || uid == geteuid().as_raw() || self.uids.contains(&uid)
    }

    fn trusts_gid(&self, gid: u32) -> bool {
        gid == 0 || gid == getegid().as_raw() || self.gids.contains(&gid)
    }
}

/// The pidfile, found: its directory open, and its name in it.
#[derive(Debug)]
pub(crate) struct Location {
    directory: OwnedFd,
    name: OsString,
    path: PathBuf,
}

impl Location {
    /// Walks `path`, which is absolute, from `/`. A refused directory or
    /// symlink is [`Error::PidfileUnsafe`], naming it; a missing one, or
    /// any other error of the walk, is [`Error::Pidfile`].
    pub(crate) fn resolve(path: &Path, writers: &Writers) -> Result<Location, Error> {
        let fail = |source| Error::Pidfile {
            path: path.to_owned(),
            errno: source as i32,
        };
        let refuse = |reason: String| Error::PidfileUnsafe {
            path: path.to_owned(),
            reason,
        };
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(fail(Errno::EISDIR));
        };
        let mut pending: VecDeque<OsString> = VecDeque::new();
        push_front(&mut pending, parent);
        let root = open(Path::new("/"), sys::DIRECTORY, Mode::empty()).map_err(fail)?;
        check_directory(&root, Path::new("/"), writers).map_err(refuse)?;
        // The directories walked, so that `..` goes back to the one that
        // was opened, not to whatever its name now holds.
        let mut walked: Vec<(OwnedFd, PathBuf)> = vec![(root, PathBuf::from("/"))];
        let mut symlinks = 0;
        while let Some(component) = pending.pop_front() {
            if component == ".." {
                if walked.len() > 1 {
                    walked.pop();
                }
                continue;
            }
            let (directory, directory_path) = walked.last().expect("the root is never popped");
            let component_path = directory_path.join(&component);
            let flags = sys::DIRECTORY | OFlag::O_NOFOLLOW;
            match openat(directory, component.as_os_str(), flags, Mode::empty()) {
                Ok(opened) => {
                    check_directory(&opened, &component_path, writers).map_err(refuse)?;
                    walked.push((opened, component_path));
                }
                Err(Errno::ELOOP | Errno::ENOTDIR) => {
                    let link = fstatat(
                        directory,
                        component.as_os_str(),
                        AtFlags::AT_SYMLINK_NOFOLLOW,
                    )
                    .map_err(fail)?;
                    if file_type(&link) != SFlag::S_IFLNK {
                        return Err(fail(Errno::ENOTDIR));
                    }
                    let holder = fstat(directory.as_fd()).map_err(fail)?;
                    if let Some(who) = may_replace_symlink(&holder, &link) {
                        return Err(refuse(format!(
                            "{} is a symbolic link in {}, which {who} could change",
                            component_path.display(),
                            directory_path.display(),
                        )));
                    }
                    symlinks += 1;
                    if symlinks > MAX_SYMLINKS {
                        return Err(fail(Errno::ELOOP));
                    }
                    let target = readlinkat(directory, component.as_os_str()).map_err(fail)?;
                    let target = Path::new(&target);
                    if target.is_absolute() {
                        walked.truncate(1);
                    }
                    push_front(&mut pending, target);
                }
                Err(e) => return Err(fail(e)),
            }
        }
        let (directory, _) = walked.pop().expect("the root is never popped");
        Ok(Location {
            directory,
            name: name.to_owned(),
            path: path.to_owned(),
        })
    }

    /// The path it was resolved from, for messages.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the file through the directory, never following a symlink.
    pub(crate) fn open(&self, flags: OFlag, mode: Mode) -> Result<OwnedFd, Errno> {
        openat(
            &self.directory,
            self.name.as_os_str(),
            flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            mode,
        )
    }

    /// What the name holds now, without following it.
    pub(crate) fn stat(&self) -> Result<FileStat, Errno> {
        fstatat(
            &self.directory,
            self.name.as_os_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
    }

    /// Whether the name holds exactly this open file.
    pub(crate) fn names(&self, file: impl AsFd) -> bool {
        match (fstat(file.as_fd()), self.stat()) {
            (Ok(held), Ok(named)) => held.st_dev == named.st_dev && held.st_ino == named.st_ino,
            _ => false,
        }
    }

    /// Unlinks the name if it still holds `file`.
    pub(crate) fn unlink_if_names(&self, file: impl AsFd) {
        if self.names(file) {
            let _ = nix::unistd::unlinkat(
                &self.directory,
                self.name.as_os_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
        }
    }
}

/// Puts `path`'s components before the ones still to walk.
fn push_front(pending: &mut VecDeque<OsString>, path: &Path) {
    for component in path.components().rev() {
        match component {
            Component::Normal(name) => pending.push_front(name.to_owned()),
            Component::ParentDir => pending.push_front(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
}

pub(crate) fn file_type(stat: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT
}

/// In a directory that someone other than `writers` may write, that someone
/// can swap what it holds between two looks: its owner always, and, without
/// the sticky bit, its group and others when they may write. Why, if so.
fn check_directory(directory: &OwnedFd, path: &Path, writers: &Writers) -> Result<(), String> {
    let held = fstat(directory.as_fd()).map_err(|e| format!("{}: {}", path.display(), e.desc()))?;
    if file_type(&held) != SFlag::S_IFDIR {
        return Err(format!("{} is not a directory", path.display()));
    }
    let mode = Mode::from_bits_truncate(held.st_mode as _);
    let sticky = mode.contains(Mode::S_ISVTX);
    let path = path.display();
    if mode.contains(Mode::S_IWOTH) && !sticky {
        Err(format!(
            "its directory {path} is writable by others and not sticky, so anyone could replace it"
        ))
    } else if !writers.trusts_uid(held.st_uid) {
        Err(format!(
            "its directory {path} belongs to uid {}, who could replace it",
            held.st_uid
        ))
    } else if mode.contains(Mode::S_IWGRP) && !sticky && !writers.trusts_gid(held.st_gid) {
        Err(format!(
            "its directory {path} is writable by group {} and not sticky, so its members could \
             replace it",
            held.st_gid
        ))
    } else {
        Ok(())
    }
}

/// Who, besides root and the invoking user, could have made or could
/// replace a symlink `link` in the directory `holder`: `None` when no one.
/// The daemon's own user is not trusted here, as it is for the directories:
/// a symlink is how it would point root somewhere else.
fn may_replace_symlink(holder: &FileStat, link: &FileStat) -> Option<String> {
    let me = geteuid().as_raw();
    let trusted = |uid: u32| uid == 0 || uid == me;
    if !trusted(holder.st_uid) {
        return Some(format!("uid {}", holder.st_uid));
    }
    let mode = Mode::from_bits_truncate(holder.st_mode as _);
    // With the sticky bit, only the link's owner (or the directory's) may
    // remove or rename it.
    let pinned = mode.contains(Mode::S_ISVTX) && trusted(link.st_uid);
    if mode.contains(Mode::S_IWOTH) && !pinned {
        return Some("anyone".to_owned());
    }
    let group = holder.st_gid;
    if mode.contains(Mode::S_IWGRP) && !pinned && group != 0 && group != getegid().as_raw() {
        return Some(format!("group {group}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn sandbox(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("daemonic-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir.canonicalize().unwrap()
    }

    #[test]
    fn a_trusted_symlink_and_dot_dot_are_walked_to_the_real_directory() {
        let dir = sandbox("walk");
        std::fs::create_dir(dir.join("run")).unwrap();
        std::fs::create_dir(dir.join("var")).unwrap();
        symlink("../run", dir.join("var/run")).unwrap();
        let found = Location::resolve(&dir.join("var/run/x/../app.pid"), &Writers::default());
        // x does not exist: the walk fails there, as open(2) would.
        assert!(matches!(
            found,
            Err(Error::Pidfile {
                errno: nix::libc::ENOENT,
                ..
            })
        ));
        let found = Location::resolve(&dir.join("var/run/app.pid"), &Writers::default()).unwrap();
        std::fs::write(dir.join("run/app.pid"), "1\n").unwrap();
        let file = std::fs::File::open(dir.join("run/app.pid")).unwrap();
        assert!(found.names(&file));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlink_in_a_directory_others_may_write_is_refused() {
        let dir = sandbox("shared");
        std::fs::create_dir(dir.join("open")).unwrap();
        std::fs::create_dir(dir.join("run")).unwrap();
        symlink(dir.join("run"), dir.join("open/run")).unwrap();
        // Writable by others, but sticky: it passes as a directory, and the
        // link is this user's own, which the sticky bit pins.
        std::fs::set_permissions(dir.join("open"), std::fs::Permissions::from_mode(0o1777))
            .unwrap();
        assert!(Location::resolve(&dir.join("open/run/app.pid"), &Writers::default()).is_ok());
        // Without the sticky bit, anyone could have swapped it: refused for
        // the directory itself first.
        std::fs::set_permissions(dir.join("open"), std::fs::Permissions::from_mode(0o777)).unwrap();
        let refused = Location::resolve(&dir.join("open/run/app.pid"), &Writers::default());
        assert!(
            matches!(&refused, Err(Error::PidfileUnsafe { reason, .. }) if reason.contains("writable by others")),
            "{refused:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlink_owned_by_a_group_that_may_write_is_refused_but_not_its_directory() {
        let dir = sandbox("group");
        std::fs::create_dir(dir.join("shared")).unwrap();
        std::fs::create_dir(dir.join("run")).unwrap();
        symlink(dir.join("run"), dir.join("shared/run")).unwrap();
        std::fs::set_permissions(dir.join("shared"), std::fs::Permissions::from_mode(0o775))
            .unwrap();
        // The group is the daemon's: the directory passes, the symlink not.
        let group = fstat(std::fs::File::open(dir.join("shared")).unwrap().as_fd())
            .unwrap()
            .st_gid;
        nix::unistd::chown(
            &dir.join("shared"),
            None,
            Some(nix::unistd::Gid::from_raw(12345)),
        )
        .ok();
        let writers = Writers {
            uids: vec![],
            gids: vec![12345, group],
        };
        let refused = Location::resolve(&dir.join("shared/run/app.pid"), &writers);
        if geteuid().is_root() {
            assert!(
                matches!(&refused, Err(Error::PidfileUnsafe { reason, .. }) if reason.contains("symbolic link") && reason.contains("group 12345")),
                "{refused:?}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

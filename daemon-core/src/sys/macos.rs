//! macOS: `proc_pidinfo` for the thread count and the open fds, `sigaction`
//! for the signals, `pipe` then `FD_CLOEXEC`, and kqueue. There is no
//! subreaper: the launcher watches the daemon's pid with kqueue instead, and
//! cannot read its exit status.

use std::ffi::CStr;
use std::os::fd::{OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::libc;
use nix::sys::wait::WaitStatus;
use nix::unistd::{Gid, Pid};

pub(crate) use super::bsd::{
    abstract_address, children, exit_watch, handled_signals, holds_file, is_set_id, send_signal,
};
use super::Snapshot;

/// `NGROUPS_MAX` of `sys/syslimits.h`, which libc lacks: `setgroups` takes
/// no more, and `initgroups(3)` keeps the first 16, as this does.
const NGROUPS_MAX: usize = 16;

/// `NSIG` is 32, counting signal 0: no real-time signals.
/// Whether systemd, and its `NOTIFY_SOCKET`, can be here.
pub(crate) const SYSTEMD: bool = false;

pub(crate) fn max_signal() -> libc::c_int {
    31
}

pub(crate) fn snapshot() -> Result<Snapshot, Errno> {
    Ok(Snapshot {
        threads: thread_count()?,
        altered_signals: super::signals_by_sigaction(),
    })
}

/// `pti_threadnum` of `proc_pidinfo(PROC_PIDTASKINFO)`.
fn thread_count() -> Result<usize, Errno> {
    // SAFETY: proc_taskinfo is plain data; the call fills at most `size` bytes.
    let mut info: libc::proc_taskinfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::proc_taskinfo>() as libc::c_int;
    let filled = unsafe {
        libc::proc_pidinfo(
            std::process::id() as libc::c_int,
            libc::PROC_PIDTASKINFO,
            0,
            (&mut info as *mut libc::proc_taskinfo).cast(),
            size,
        )
    };
    if filled < size {
        return Err(if filled <= 0 {
            Errno::last()
        } else {
            Errno::EINVAL
        });
    }
    Ok(info.pti_threadnum as usize)
}

/// The open fds, from `proc_pidinfo(PROC_PIDLISTFDS)`: the cost follows the
/// open fds, never the fd limit, as `close_range` does elsewhere.
pub(crate) fn open_fds() -> Result<Vec<RawFd>, Errno> {
    let pid = std::process::id() as libc::c_int;
    // SAFETY: a null buffer asks for the size only.
    let needed =
        unsafe { libc::proc_pidinfo(pid, libc::PROC_PIDLISTFDS, 0, std::ptr::null_mut(), 0) };
    if needed <= 0 {
        return Err(Errno::last());
    }
    let entry = std::mem::size_of::<libc::proc_fdinfo>();
    let capacity = needed as usize / entry + 16;
    let mut fds: Vec<libc::proc_fdinfo> = Vec::with_capacity(capacity);
    // SAFETY: the buffer holds `capacity` entries; the call fills at most that.
    let filled = unsafe {
        libc::proc_pidinfo(
            pid,
            libc::PROC_PIDLISTFDS,
            0,
            fds.as_mut_ptr().cast(),
            (capacity * entry) as libc::c_int,
        )
    };
    if filled <= 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel wrote `filled` bytes of whole entries.
    unsafe { fds.set_len(filled as usize / entry) };
    Ok(fds.iter().map(|info| info.proc_fd).collect())
}

/// No `close_range` or `closefrom`: the listed fds are closed one by one.
pub(crate) fn close_fds_from(keep: &[RawFd]) -> Result<(), Errno> {
    super::close_listed(open_fds()?, keep)
}

/// No `pipe2`.
pub(crate) fn pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    super::pipe_then_cloexec()
}

/// No `O_PATH`: a read-only directory fd serves to unlink through.
/// How a directory is opened to walk through and unlink in: macOS has no
/// `O_PATH`, so each directory on the pidfile's path must be readable.
pub(crate) const DIRECTORY: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_CLOEXEC);

/// macOS has no subreaper.
pub(crate) fn acquire_subreaper() -> Option<bool> {
    None
}

pub(crate) fn restore_subreaper(_previous: bool) {}

/// Never called in earnest: without a subreaper, the daemon is never this
/// process's child.
pub(crate) fn peek_child(_pid: Pid) -> Result<WaitStatus, Errno> {
    Err(Errno::ECHILD)
}

pub(crate) fn group_list(name: &CStr, gid: Gid) -> Result<Vec<Gid>, Errno> {
    let mut capacity: libc::c_int = 32;
    loop {
        let mut groups = vec![0 as libc::c_int; capacity as usize];
        let mut count = capacity;
        // SAFETY: `groups` holds `count` entries, and the call writes no more.
        let rc = unsafe {
            libc::getgrouplist(
                name.as_ptr(),
                gid.as_raw() as libc::c_int,
                groups.as_mut_ptr(),
                &mut count,
            )
        };
        if rc != -1 {
            groups.truncate(count.max(0) as usize);
            return Ok(groups
                .into_iter()
                .map(|g| Gid::from_raw(g as u32))
                .collect());
        }
        if capacity >= 1 << 16 {
            return Err(Errno::EINVAL);
        }
        capacity *= 4;
    }
}

/// At most [`NGROUPS_MAX`] groups, the first ones, as `initgroups(3)` does.
pub(crate) fn set_groups(groups: &[Gid]) -> Result<(), Errno> {
    let groups: Vec<libc::gid_t> = groups
        .iter()
        .take(NGROUPS_MAX)
        .map(|g| g.as_raw())
        .collect();
    // SAFETY: the pointer and the count describe `groups`.
    let rc = unsafe { libc::setgroups(groups.len() as libc::c_int, groups.as_ptr()) };
    Errno::result(rc).map(drop)
}

/// `pid`'s real and saved uids, from `proc_pidinfo(PROC_PIDTBSDINFO)`.
pub(crate) fn process_uids(pid: Pid) -> Result<(u32, u32), Errno> {
    // SAFETY: proc_bsdinfo is plain data; the call fills at most `size` bytes.
    let mut info: libc::proc_bsdinfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::proc_bsdinfo>() as libc::c_int;
    let filled = unsafe {
        libc::proc_pidinfo(
            pid.as_raw(),
            libc::PROC_PIDTBSDINFO,
            0,
            (&mut info as *mut libc::proc_bsdinfo).cast(),
            size,
        )
    };
    if filled < size {
        return Err(if filled <= 0 {
            Errno::last()
        } else {
            Errno::ESRCH
        });
    }
    Ok((info.pbi_ruid, info.pbi_svuid))
}

/// No parent-death signal on macOS: a new process whose old one died
/// before it was ready finds out at `ready()`, when the pipe is gone.
pub(crate) fn set_parent_death_signal(_signal: libc::c_int) -> Result<(), Errno> {
    Ok(())
}

/// macOS has no per-process switch that a later `task_for_pid` obeys;
/// that call already needs root or a debugging entitlement there.
pub(crate) fn set_undumpable() -> Result<(), Errno> {
    Ok(())
}

/// No `AT_EXECFN` read here: the caller falls back on `current_exe`.
pub(crate) fn started_as() -> Option<std::path::PathBuf> {
    None
}

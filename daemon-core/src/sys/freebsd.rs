//! FreeBSD: `sysctl` `kern.proc.pid` for the thread count, `sigaction` for
//! the signals, `close_range`, `pipe2`, `O_PATH`, `procctl(PROC_REAP_ACQUIRE)`
//! and kqueue.

use std::os::fd::{OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::libc;
use nix::unistd::Pid;

pub(crate) use super::bsd::{
    abstract_address, children, exit_watch, handled_signals, holds_file, is_set_id, send_signal,
};
pub(crate) use super::nix_only::{group_list, peek_child, set_groups};
use super::Snapshot;

/// `_SIG_MAXSIG` of `sys/_sigset.h`: the real-time signals end at 126.
/// Whether systemd, and its `NOTIFY_SOCKET`, can be here.
pub(crate) const SYSTEMD: bool = false;

pub(crate) fn max_signal() -> libc::c_int {
    128
}

pub(crate) fn snapshot() -> Result<Snapshot, Errno> {
    Ok(Snapshot {
        threads: thread_count()?,
        altered_signals: super::signals_by_sigaction(),
    })
}

/// `ki_numthreads` of this process's `kinfo_proc`.
fn thread_count() -> Result<usize, Errno> {
    Ok(kinfo_proc(std::process::id() as libc::pid_t)?.ki_numthreads as usize)
}

/// `sysctl` `kern.proc.pid.<pid>`.
fn kinfo_proc(pid: libc::pid_t) -> Result<libc::kinfo_proc, Errno> {
    let mib = [libc::CTL_KERN, libc::KERN_PROC, libc::KERN_PROC_PID, pid];
    // SAFETY: kinfo_proc is plain data; sysctl fills at most `len` bytes.
    let mut info: libc::kinfo_proc = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::kinfo_proc>();
    let rc = unsafe {
        libc::sysctl(
            mib.as_ptr(),
            mib.len() as libc::c_uint,
            (&mut info as *mut libc::kinfo_proc).cast(),
            &mut len,
            std::ptr::null(),
            0,
        )
    };
    Errno::result(rc)?;
    if len < std::mem::size_of::<libc::kinfo_proc>() {
        // No such process gives an empty answer.
        return Err(Errno::ESRCH);
    }
    Ok(info)
}

/// Without fdescfs mounted, `/dev/fd` shows only 0 to 2: FreeBSD closes by
/// range and never needs the list, but for the forced fallback it is read.
pub(crate) fn open_fds() -> Result<Vec<RawFd>, Errno> {
    Ok(std::fs::read_dir("/dev/fd")
        .map_err(super::io_errno)?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect())
}

/// One `close_range` per gap between kept fds, then `closefrom`.
pub(crate) fn close_fds_from(keep: &[RawFd]) -> Result<(), Errno> {
    let mut sorted: Vec<RawFd> = keep.iter().copied().filter(|&fd| fd >= 3).collect();
    sorted.sort_unstable();
    let mut first: RawFd = 3;
    for fd in sorted {
        if fd > first {
            // SAFETY: plain integers; the fds' owners are the caller's contract.
            let rc =
                unsafe { libc::close_range(first as libc::c_uint, (fd - 1) as libc::c_uint, 0) };
            Errno::result(rc)?;
        }
        first = fd + 1;
    }
    // SAFETY: as above.
    unsafe { libc::closefrom(first) };
    Ok(())
}

pub(crate) fn pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC)
}

/// How a directory is opened to walk through and unlink in: `O_PATH`
/// (FreeBSD 14), which needs no read permission on it.
pub(crate) const DIRECTORY: OFlag = OFlag::O_PATH
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_CLOEXEC);

/// `struct procctl_reaper_status` of `sys/procctl.h`, which libc lacks.
#[repr(C)]
struct ReaperStatus {
    rs_flags: libc::c_uint,
    rs_children: libc::c_uint,
    rs_descendants: libc::c_uint,
    rs_reaper: libc::pid_t,
    rs_pid: libc::pid_t,
    rs_pad0: [libc::c_uint; 15],
}

const REAPER_STATUS_OWNED: libc::c_uint = 1;

fn procctl(command: libc::c_int, data: *mut libc::c_void) -> Result<(), Errno> {
    // SAFETY: this process's own reaper state; `data` fits `command`.
    let rc = unsafe { libc::procctl(libc::P_PID, std::process::id() as libc::id_t, command, data) };
    Errno::result(rc).map(drop)
}

/// Makes this process a reaper for its descendants; its previous state.
pub(crate) fn acquire_subreaper() -> Option<bool> {
    // SAFETY: plain data, filled by the kernel.
    let mut status: ReaperStatus = unsafe { std::mem::zeroed() };
    procctl(
        libc::PROC_REAP_STATUS,
        (&mut status as *mut ReaperStatus).cast(),
    )
    .ok()?;
    let previous = status.rs_flags & REAPER_STATUS_OWNED != 0;
    if !previous {
        procctl(libc::PROC_REAP_ACQUIRE, std::ptr::null_mut()).ok()?;
    }
    Some(previous)
}

pub(crate) fn restore_subreaper(previous: bool) {
    if !previous {
        let _ = procctl(libc::PROC_REAP_RELEASE, std::ptr::null_mut());
    }
}

/// `pid`'s real and saved uids, from its `kinfo_proc`.
pub(crate) fn process_uids(pid: Pid) -> Result<(u32, u32), Errno> {
    let info = kinfo_proc(pid.as_raw())?;
    Ok((info.ki_ruid, info.ki_svuid))
}

/// Has the kernel send `signal` to this process when its parent exits
/// (0: never): `procctl(PROC_PDEATHSIG_CTL)`. Async-signal-safe.
pub(crate) fn set_parent_death_signal(signal: libc::c_int) -> Result<(), Errno> {
    let mut signal = signal;
    // SAFETY: this process's own setting; `signal` outlives the call.
    Errno::result(unsafe {
        libc::procctl(
            libc::P_PID,
            0,
            libc::PROC_PDEATHSIG_CTL,
            (&mut signal as *mut libc::c_int).cast(),
        )
    })
    .map(drop)
}

/// Makes this process untraceable by its own user, as `setuid` from root
/// left the daemon it replaces (`PROC_TRACE_CTL_DISABLE`).
pub(crate) fn set_undumpable() -> Result<(), Errno> {
    let mut disable: libc::c_int = libc::PROC_TRACE_CTL_DISABLE;
    // SAFETY: this process's own setting; `disable` outlives the call.
    Errno::result(unsafe {
        libc::procctl(
            libc::P_PID,
            0,
            libc::PROC_TRACE_CTL,
            (&mut disable as *mut libc::c_int).cast(),
        )
    })
    .map(drop)
}

/// No `AT_EXECFN` read here: the caller falls back on `current_exe`.
pub(crate) fn started_as() -> Option<std::path::PathBuf> {
    None
}

//! Linux: `/proc/self/status`, `close_range`, `pipe2`, `O_PATH`, pidfds and
//! `PR_SET_CHILD_SUBREAPER`.

use std::fs;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::SocketAddr;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::libc;
use nix::sys::prctl;
use nix::unistd::Pid;

pub(crate) use super::nix_only::{group_list, peek_child, set_groups};
use super::{io_errno, Signals, Snapshot};

/// Whether systemd, and its `NOTIFY_SOCKET`, can be here.
pub(crate) const SYSTEMD: bool = true;

pub(crate) fn max_signal() -> libc::c_int {
    libc::SIGRTMAX()
}

/// One read of `/proc/self/status` gives both: into a buffer that holds
/// the whole file, so the kernel makes its text once, not once for each
/// doubling of a growing `Vec` (`fs::read` starts small, as the file's
/// size reads 0). It stops as soon as both fields are in.
pub(crate) fn snapshot() -> Result<Snapshot, Errno> {
    use std::io::Read;
    let mut file = fs::File::open("/proc/self/status").map_err(io_errno)?;
    let mut status = [0u8; 8192];
    let mut len = 0;
    loop {
        // Whole lines only: a mask cut short would parse, and be wrong.
        let whole = status[..len]
            .iter()
            .rposition(|&byte| byte == b'\n')
            .map_or(0, |end| end + 1);
        // Not read as UTF-8: the kernel cuts `Name:` at 15 bytes, which can
        // split a character of a program's name in two.
        if let Some(snapshot) = parse_status(&String::from_utf8_lossy(&status[..whole])) {
            return Ok(snapshot);
        }
        if len == status.len() {
            // Longer than the buffer, and the fields not yet in: a user in
            // hundreds of groups has a `Groups:` line of kilobytes, before
            // them. Read whole, then, on the heap (this is the launcher).
            return snapshot_read_whole(&mut file, &status);
        }
        match file.read(&mut status[len..]) {
            Ok(0) => return Err(Errno::EINVAL),
            Ok(read) => len += read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_errno(e)),
        }
    }
}

/// The rest of `/proc/self/status` after `start`, which holds its beginning.
fn snapshot_read_whole(file: &mut fs::File, start: &[u8]) -> Result<Snapshot, Errno> {
    use std::io::Read;
    let mut status = start.to_vec();
    file.read_to_end(&mut status).map_err(io_errno)?;
    parse_status(&String::from_utf8_lossy(&status)).ok_or(Errno::EINVAL)
}

fn parse_status(status: &str) -> Option<Snapshot> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    let mask = |name: &str| u64::from_str_radix(field(name)?, 16).ok();
    Some(Snapshot {
        threads: field("Threads")?.parse().ok()?,
        altered_signals: Signals(u128::from(mask("SigIgn")? | mask("SigCgt")?)),
    })
}

/// The open fds, from `/proc/self/fd`.
pub(crate) fn open_fds() -> Result<Vec<RawFd>, Errno> {
    Ok(fs::read_dir("/proc/self/fd")
        .map_err(io_errno)?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect())
}

/// One `close_range` per gap between kept fds; the `/proc/self/fd` list
/// where the call is missing (ENOSYS before Linux 5.9) or forbidden (EPERM,
/// a seccomp filter older than the call).
#[inline]
pub(crate) fn close_fds_from(keep: &[RawFd]) -> Result<(), Errno> {
    // Sorted on the stack: in a fresh fork, the heap's first allocation
    // costs copy-on-write faults. A longer list than this is rare.
    let mut stack = [0 as RawFd; 64];
    let mut heap = Vec::new();
    let sorted = match stack.get_mut(..keep.len()) {
        Some(sorted) => sorted,
        None => {
            heap.extend_from_slice(keep);
            &mut heap[..]
        }
    };
    sorted.copy_from_slice(keep);
    sorted.sort_unstable();
    close_ranges_around(sorted).or_else(|_| super::close_listed(open_fds()?, keep))
}

#[inline]
fn close_ranges_around(keep: &[RawFd]) -> Result<(), Errno> {
    let mut first: libc::c_uint = 3;
    for &fd in keep.iter().filter(|&&fd| fd >= 3) {
        let fd = fd as libc::c_uint;
        if fd > first {
            close_range(first, fd - 1)?;
        }
        first = fd + 1;
    }
    close_range(first, libc::c_uint::MAX)
}

#[inline]
fn close_range(first: libc::c_uint, last: libc::c_uint) -> Result<(), Errno> {
    // SAFETY: close_range takes plain integers; that nothing still uses the
    // fds it closes is `close_fds_except`'s contract.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0 as libc::c_uint) };
    Errno::result(rc).map(drop)
}

pub(crate) fn pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC)
}

/// How a directory is opened to walk through and unlink in: `O_PATH`,
/// which needs no read permission on it.
pub(crate) const DIRECTORY: OFlag = OFlag::O_PATH
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_CLOEXEC);

/// Makes this process a child subreaper; its previous state, to restore.
pub(crate) fn acquire_subreaper() -> Option<bool> {
    let previous = prctl::get_child_subreaper().ok()?;
    prctl::set_child_subreaper(true).ok()?;
    Some(previous)
}

pub(crate) fn restore_subreaper(previous: bool) {
    let _ = prctl::set_child_subreaper(previous);
}

/// A pidfd (Linux 5.3): it polls readable once `pid` has exited.
pub(crate) fn exit_watch(pid: Pid) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes a pid and flags, and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the fd was just created, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

pub(crate) fn abstract_address(name: &[u8]) -> Result<SocketAddr, Errno> {
    SocketAddr::from_abstract_name(name).map_err(io_errno)
}

/// Sends `signal` through the pidfd: to the process it was opened for, and
/// to no other, even if that one has exited and its pid been reused.
pub(crate) fn send_signal(watch: &OwnedFd, _pid: Pid, signal: libc::c_int) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    // SAFETY: plain integers and a null siginfo, as pidfd_send_signal(2) allows.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            watch.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0 as libc::c_uint,
        )
    };
    Errno::result(rc).map(drop)
}

/// Whether one of `pid`'s fds is the file `dev`/`ino`, from `/proc/<pid>/fd`.
/// An error reading the list is that error, not a "no".
pub(crate) fn holds_file(pid: Pid, dev: u64, ino: u64) -> Result<bool, Errno> {
    for fd in fs::read_dir(format!("/proc/{pid}/fd")).map_err(io_errno)? {
        let fd = fd.map_err(io_errno)?;
        // stat follows the magic link to the open file itself.
        match nix::sys::stat::stat(&fd.path()) {
            Ok(st) if st.st_dev == dev && st.st_ino == ino => return Ok(true),
            Ok(_) => {}
            // Closed since the listing: not the file, whatever it was.
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// The signals a thread waits for in `rt_sigtimedwait`, or none when it is
/// not in that call; all of them when it is and the set cannot be read.
fn awaited_signals(pid: Pid, task: &Path) -> u64 {
    use std::os::unix::fs::FileExt;
    let Ok(call) = fs::read_to_string(task.join("syscall")) else {
        return 0;
    };
    let mut fields = call.split_whitespace();
    if fields.next().and_then(|nr| nr.parse::<libc::c_long>().ok())
        != Some(libc::SYS_rt_sigtimedwait)
    {
        return 0;
    }
    let set = fields
        .next()
        .and_then(|arg| u64::from_str_radix(arg.trim_start_matches("0x"), 16).ok());
    let mut bytes = [0u8; 8];
    let read = set.and_then(|set| {
        let memory = fs::File::open(format!("/proc/{pid}/mem")).ok()?;
        memory.read_exact_at(&mut bytes, set).ok()
    });
    match read {
        Some(()) => u64::from_ne_bytes(bytes),
        None => u64::MAX,
    }
}

/// This process's children, from `/proc/self/task/<tid>/children` of each
/// of its threads (Linux 3.5, `CONFIG_PROC_CHILDREN`).
pub(crate) fn children() -> Result<Vec<Pid>, Errno> {
    let mut children = Vec::new();
    for task in fs::read_dir("/proc/self/task").map_err(io_errno)? {
        let listed = fs::read_to_string(task.map_err(io_errno)?.path().join("children"));
        match listed {
            Ok(listed) => children.extend(
                listed
                    .split_whitespace()
                    .filter_map(|pid| pid.parse().ok())
                    .map(Pid::from_raw),
            ),
            // A thread that exited meanwhile has no children to list.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_errno(e)),
        }
    }
    Ok(children)
}

/// `pid`'s real and saved uids, from `/proc/<pid>/status`.
pub(crate) fn process_uids(pid: Pid) -> Result<(u32, u32), Errno> {
    let status = fs::read(format!("/proc/{pid}/status")).map_err(io_errno)?;
    let status = String::from_utf8_lossy(&status);
    let uids: Vec<u32> = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .ok_or(Errno::EINVAL)?
        .split_whitespace()
        .filter_map(|uid| uid.parse().ok())
        .collect();
    match uids[..] {
        [real, _, saved, ..] => Ok((real, saved)),
        _ => Err(Errno::EINVAL),
    }
}

/// Has the kernel send `signal` to this process when its parent thread
/// exits (0: never). Async-signal-safe: a raw prctl, for `pre_exec`.
pub(crate) fn set_parent_death_signal(signal: libc::c_int) -> Result<(), Errno> {
    // SAFETY: plain integers.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong) }).map(drop)
}

/// Makes this process undumpable, as `setuid` from root left the daemon it
/// replaces: its `/proc/<pid>` then belongs to root, and neither ptrace nor
/// `pidfd_getfd` by its own user reaches its fds.
pub(crate) fn set_undumpable() -> Result<(), Errno> {
    // SAFETY: plain integers.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0 as libc::c_ulong) }).map(drop)
}

/// The path this program was started by, as `execve` was given it
/// (`AT_EXECFN`): no system call, where `current_exe` reads the
/// `/proc/self/exe` link. It is what an upgrade should start again: through
/// a symlink that a deploy switched, the new target, not the old binary
/// that `/proc/self/exe` names.
///
/// `None`, for `current_exe` to answer instead, when the path is not to be
/// trusted or means nothing now:
/// - in a set-uid or set-gid process, whose caller chose the path: through
///   a symlink of the caller's, switched before an upgrade, the new process
///   would be the caller's program, run with the daemon's privileges;
/// - a relative path: the directory it was relative to may have changed
///   since the exec, before the start;
/// - an exec by fd (`fexecve`), whose path names the fd, not a file.
pub(crate) fn started_as() -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    if is_set_id() {
        return None;
    }
    // SAFETY: getauxval reads the auxiliary vector; 0 when absent. The
    // string it points to lies in this process's initial stack, for its life.
    let name = unsafe { libc::getauxval(libc::AT_EXECFN) } as *const libc::c_char;
    if name.is_null() {
        return None;
    }
    // SAFETY: a NUL-terminated string, as above.
    let bytes = unsafe { std::ffi::CStr::from_ptr(name) }.to_bytes();
    if !bytes.starts_with(b"/") || bytes.starts_with(b"/dev/fd/") || bytes.starts_with(b"/proc/") {
        return None;
    }
    Some(std::ffi::OsStr::from_bytes(bytes).into())
}

/// Whether this process runs set-uid or set-gid (or with file
/// capabilities): the kernel's `AT_SECURE`.
pub(crate) fn is_set_id() -> bool {
    // SAFETY: getauxval reads the auxiliary vector; 0 when absent.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// The signals `pid` catches, ignores, or blocks in every thread: one that
/// is none of these would end it, or stop it, by its default action.
///
/// A thread waiting in `sigwait` (or `sigtimedwait`) shows the signals it
/// waits for as unblocked in `/proc`, as the kernel takes them out of its
/// mask for the wait; yet one of those is taken by the wait and kills
/// nobody. So for such a thread the set it waits for is read too, from the
/// call's first argument (`/proc/<tid>/syscall`, then `/proc/<pid>/mem`);
/// where that cannot be read, the thread counts as blocking everything.
pub(crate) fn handled_signals(pid: Pid) -> Result<Signals, Errno> {
    let mask = |status: &str, name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|value| u64::from_str_radix(value.trim(), 16).ok())
            .ok_or(Errno::EINVAL)
    };
    let read =
        |path: String| fs::read(path).map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    let status = read(format!("/proc/{pid}/status")).map_err(io_errno)?;
    let mut blocked_everywhere = u64::MAX;
    for task in fs::read_dir(format!("/proc/{pid}/task")).map_err(io_errno)? {
        let task = task.map_err(io_errno)?.path();
        // A thread that exited meanwhile blocks nothing any more.
        let Ok(thread) = read(task.join("status").display().to_string()) else {
            continue;
        };
        let blocked = mask(&thread, "SigBlk")? | awaited_signals(pid, &task);
        blocked_everywhere &= blocked;
    }
    Ok(Signals(u128::from(
        mask(&status, "SigCgt")? | mask(&status, "SigIgn")? | blocked_everywhere,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_threads_and_the_signals_ignored_or_caught() {
        let status = "Name:\tapp\nThreads:\t3\nSigBlk:\t0000000000000004\n\
                      SigIgn:\t0000000000001000\nSigCgt:\t0000000000000440\n";
        let snapshot = parse_status(status).unwrap();
        assert_eq!(snapshot.threads, 3);
        assert_eq!(snapshot.altered_signals, Signals(0x1440));
    }

    #[test]
    fn a_thread_started_here_is_counted() {
        let (started, stop) = (std::sync::Barrier::new(2), std::sync::Barrier::new(2));
        std::thread::scope(|scope| {
            scope.spawn(|| {
                started.wait();
                stop.wait();
            });
            started.wait();
            // Other tests' threads may come and go: at least this one is new.
            assert!(snapshot().unwrap().threads >= 2);
            stop.wait();
        });
    }
}

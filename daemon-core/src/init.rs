//! PID 1 of a namespace (a container's entrypoint): the program is its own
//! init, as tini would be, with no tini in the image.
//!
//! The kernel gives PID 1 no default signal actions, so `docker stop`'s
//! SIGTERM would be ignored; it re-parents every orphan of the namespace to
//! PID 1, which must reap them; and when PID 1 exits, the whole namespace
//! is killed, so detaching would end the container at once. So when
//! `getpid()` is 1, the process forks once, first thing, while it has one
//! thread. The child runs the program in the foreground. The parent stays
//! PID 1 and does only this: it forwards every signal it gets to the child,
//! reaps whatever is re-parented to it, and exits with the child's status,
//! or 128+N when the child died of signal N. It holds no lock and no fd of
//! the program's: it forks before the program opens any.

use std::sync::atomic::Ordering;

use nix::libc;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, getpid, ForkResult, Pid};

use crate::state::PROCESS;
use crate::{sys, Error};

/// Set to `0`, this environment variable keeps a PID 1 from becoming its
/// own init: for an image that runs its own init in front of it anyway.
pub const INIT_ENV: &str = "DAEMONIC_INIT";

/// Signals that the kernel raises in a process for what it itself did:
/// never forwarded, and never blocked in the init, whose own fault must
/// end it as it would any process.
const SYNCHRONOUS: [Signal; 7] = [
    Signal::SIGSEGV,
    Signal::SIGBUS,
    Signal::SIGILL,
    Signal::SIGFPE,
    Signal::SIGABRT,
    Signal::SIGTRAP,
    Signal::SIGSYS,
];

/// Whether this process should become its own init: it is PID 1 of its
/// namespace, read with `getpid() == 1` and nothing else, and
/// [`INIT_ENV`] is not `0`.
pub(crate) fn wanted() -> bool {
    getpid().as_raw() == 1 && std::env::var_os(INIT_ENV).is_none_or(|value| value != "0")
}

/// Whether this process is the program under its own init.
pub(crate) fn under_init() -> bool {
    PROCESS.under_init.load(Ordering::SeqCst)
}

/// Forks the init off. Returns in the child, which runs the program; the
/// parent never returns.
///
/// # Safety
///
/// The process must have one thread (checked: [`Error::Threaded`]
/// otherwise), and nothing may own an fd yet that the init would keep.
pub(crate) unsafe fn split() -> Result<(), Error> {
    let snapshot = sys::take_snapshot().map_err(|e| Error::CountThreads(e as i32))?;
    if snapshot.threads > 1 {
        return Err(Error::Threaded {
            threads: snapshot.threads,
        });
    }
    // Blocked before the fork, so that no signal falls between the fork
    // and the init's first wait; the child puts the mask back.
    let mut blocked = SigSet::all();
    for signal in SYNCHRONOUS {
        blocked.remove(signal);
    }
    let previous_mask = blocked
        .thread_swap_mask(SigmaskHow::SIG_BLOCK)
        .map_err(|e| Error::Signals(e as i32))?;
    // An inherited SIG_IGN would have the kernel reap the children, and the
    // program's exit status with them.
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: SIG_DFL installs no handler code.
    let previous_chld =
        unsafe { sigaction(Signal::SIGCHLD, &default) }.map_err(|e| Error::Signals(e as i32))?;
    let restore = || -> Result<(), Error> {
        // SAFETY: puts back what this process had.
        unsafe { sigaction(Signal::SIGCHLD, &previous_chld) }
            .map_err(|e| Error::Signals(e as i32))?;
        previous_mask
            .thread_set_mask()
            .map_err(|e| Error::Signals(e as i32))
    };
    // SAFETY: one thread, checked above.
    match unsafe { fork() } {
        Err(e) => {
            // The fork's error is the one to tell.
            let _ = restore();
            Err(Error::Fork(e as i32))
        }
        Ok(ForkResult::Child) => {
            // A program left with every signal blocked would not stop on
            // the SIGTERM its init forwards: that is a failed start.
            restore()?;
            PROCESS.under_init.store(true, Ordering::SeqCst);
            Ok(())
        }
        Ok(ForkResult::Parent { child }) => serve(child, blocked),
    }
}

/// The init's one loop: wait for a signal, a second at most; forward it
/// unless it is SIGCHLD; reap; exit when the child has. The reap runs on
/// every turn, as tini's does: a SIGCHLD taken by a wait that then failed
/// would otherwise leave the program's end unseen for good.
fn serve(child: Pid, blocked: SigSet) -> ! {
    loop {
        let number = next_signal(&blocked);
        reap(child);
        if number > 0 && number != libc::SIGCHLD {
            // SAFETY: plain integers. The child is not reaped yet (the reap
            // above would have ended this process), so the pid is its own.
            unsafe { libc::kill(child.as_raw(), number) };
        }
    }
}

/// The next signal of `set`, by the raw call (a real-time signal has no
/// name in nix's `Signal`, and is forwarded all the same): its number, or
/// 0 after a second without one, or on an error.
#[cfg(not(target_os = "macos"))]
fn next_signal(set: &SigSet) -> libc::c_int {
    let second = libc::timespec {
        tv_sec: 1,
        tv_nsec: 0,
    };
    // SAFETY: a valid set, a null info and a timeout that outlive the call.
    unsafe { libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), &second) }.max(0)
}

/// macOS has no `sigtimedwait`; nor does a process there find itself PID 1
/// of a namespace, so this waits without a bound.
#[cfg(target_os = "macos")]
fn next_signal(set: &SigSet) -> libc::c_int {
    let mut number: libc::c_int = 0;
    // SAFETY: a valid set and an out-parameter that outlives the call.
    match unsafe { libc::sigwait(set.as_ref(), &mut number) } {
        0 => number,
        _ => 0,
    }
}

/// Reaps every child that has ended: the program, and the orphans the
/// namespace re-parented here. The program's end is the init's.
fn reap(child: Pid) {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == child => exit(code),
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == child => exit(128 + signal as i32),
            Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => return,
            // An orphan reaped, or EINTR: again.
            Ok(_) | Err(_) => {}
        }
    }
}

fn exit(code: i32) -> ! {
    // SAFETY: ends the init; nothing of the program's is here to flush.
    unsafe { libc::_exit(code) }
}

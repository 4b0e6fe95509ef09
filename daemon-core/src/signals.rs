//! Signal state in the daemon: default dispositions and an empty mask, as daemon(7) asks.

use nix::libc;
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};

use crate::sys::{self, Signals};
use crate::Error;

/// Resets to its default every handler that `altered` (from
/// [`Snapshot`](crate::sys::Snapshot)) marks as ignored or caught, and
/// unblocks every signal. Signals with their default disposition already
/// cost no system call.
///
/// Three signals keep what the Rust runtime set before main: SIGPIPE stays
/// ignored, so a write to a closed socket returns `EPIPE` instead of killing
/// the server, and SIGSEGV and SIGBUS keep the handlers that turn a stack
/// overflow into a message.
pub(crate) fn reset(altered: Signals) -> Result<(), Error> {
    let kept = [libc::SIGPIPE, libc::SIGSEGV, libc::SIGBUS];
    for signal in 1..=sys::max_signal() {
        if !altered.contains(signal) || kept.contains(&signal) {
            continue;
        }
        // SAFETY: SIG_DFL installs no handler code. Numbers the C library
        // reserves for itself (glibc's 32 and 33, libthr's SIGTHR) fail
        // with EINVAL and keep their disposition.
        unsafe { libc::signal(signal, libc::SIG_DFL) };
    }
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .map_err(|e| Error::Signals(e as i32))
}

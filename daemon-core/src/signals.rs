//! Signal state in the daemon: default dispositions and an empty mask, as daemon(7) asks.

use nix::libc;
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};

use crate::Error;

/// Resets every handler to its default and unblocks every signal.
///
/// Three signals keep what the Rust runtime set before main: SIGPIPE stays
/// ignored, so a write to a closed socket returns `EPIPE` instead of killing
/// the server, and SIGSEGV and SIGBUS keep the handlers that turn a stack
/// overflow into a message.
pub(crate) fn reset() -> Result<(), Error> {
    for signal in 1..=libc::SIGRTMAX() {
        let kept = [libc::SIGPIPE, libc::SIGSEGV, libc::SIGBUS];
        if matches!(signal, libc::SIGKILL | libc::SIGSTOP) || kept.contains(&signal) {
            continue;
        }
        // SAFETY: SIG_DFL installs no handler code. Numbers the C library
        // reserves for itself fail with EINVAL and keep their disposition.
        unsafe { libc::signal(signal, libc::SIG_DFL) };
    }
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None).map_err(Error::Signals)
}

//! Stopping a fixture with SIGTERM, once it is ready for it, and seeing it go.

use std::path::Path;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{alive, catches_sigterm, in_sigwait, wait_until, EXIT};

/// Stops a fixture with SIGTERM, once its handler is in place; it returns
/// from main, which removes the pidfile.
pub fn stop(pid: i32, pidfile: &Path) {
    wait_for_sigterm_handler(pid);
    stop_now(pid, pidfile);
}

/// Stops a fixture that has no pidfile, as [`stop`] does.
pub fn stop_without_pidfile(pid: i32) {
    wait_for_sigterm_handler(pid);
    terminate(pid);
    assert!(wait_until(EXIT, || !alive(pid)), "{pid} ignored SIGTERM");
}

/// Stops a daemon known to be waiting for SIGTERM already.
pub fn stop_now(pid: i32, pidfile: &Path) {
    terminate(pid);
    assert!(
        wait_until(EXIT, || !alive(pid)),
        "daemon {pid} ignored SIGTERM"
    );
    assert!(
        !pidfile.exists(),
        "the pidfile outlived a normal exit of main"
    );
}

/// Before main installs its handler, SIGTERM would kill the process
/// outright, with no return from main.
fn wait_for_sigterm_handler(pid: i32) {
    assert!(
        wait_until(EXIT, || catches_sigterm(pid)),
        "{pid} never got ready for SIGTERM"
    );
}

/// Waits until `pid` sleeps in sigwait (its wchan names sigtimedwait), as
/// programs that block SIGTERM and wait for it do once they are ready.
/// SigBlk would not do: while sigwait waits, the kernel shows the awaited
/// signals unblocked.
pub fn wait_for_sigwait(pid: i32) {
    assert!(
        wait_until(EXIT, || in_sigwait(pid)),
        "{pid} never waited for a signal"
    );
}

fn terminate(pid: i32) {
    kill(Pid::from_raw(pid), Signal::SIGTERM).expect("SIGTERM the daemon");
}

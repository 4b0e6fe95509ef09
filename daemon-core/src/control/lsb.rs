//! The commands as an init script runs them: one line, and the LSB exit code.
//!
//! | command | 0 | 1 | 2 | 3 | 4 | 7 |
//! |---|---|---|---|---|---|---|
//! | `start` | started, or already running | failed | | | | |
//! | `stop` | stopped, or not running | still alive, or the lock kept | | | any other error | |
//! | `status` | running | stale pidfile | | not running | cannot tell | |
//! | `reload`, `upgrade` | done | upgrade failed | | signal not handled | any other error | not running |
//! | any | | | unknown word | | | |
//!
//! `restart` is `stop`, then `start`.

use std::fmt::Display;
use std::io::Write;

use super::{Control, Status, Stopped};
use crate::{Daemon, Detached, Error};

/// LSB: success; for `status`, the program runs.
const SUCCESS: i32 = 0;
/// LSB: a generic or unspecified error; for `status`, a stale pidfile.
const FAILURE: i32 = 1;
/// LSB: invalid or excess arguments.
const BAD_ARGUMENTS: i32 = 2;
/// LSB: unimplemented feature; here a signal the daemon does not handle.
const UNIMPLEMENTED: i32 = 3;
/// LSB: insufficient privilege, and `status`'s "unknown": an error that
/// says nothing of the daemon (an unsafe pidfile, a holder not believed).
const UNKNOWN: i32 = 4;
/// LSB: the program is not running.
const NOT_RUNNING: i32 = 7;

/// The exit code of `stop`, `reload` or `upgrade` when it failed with
/// `error`. (`start` fails with 1, an unknown word with 2, and `status`
/// answers with its own codes: see `run`.)
fn code_of(error: &Error) -> i32 {
    match error {
        Error::StillAlive { .. } | Error::LockKept { .. } => FAILURE,
        Error::NotUpgraded { .. } | Error::ExitedWithoutSuccessor { .. } => FAILURE,
        Error::SignalNotHandled { .. } => UNIMPLEMENTED,
        Error::NotRunning => NOT_RUNNING,
        _ => UNKNOWN,
    }
}

/// One line on stdout. Never a panic: with stdout gone (a closed pipe, a
/// terminal hung up), the exit status is what the caller reads.
pub(crate) fn say(line: impl Display) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// `daemonic: ERROR` on stderr, then `code`; never a panic either.
pub(crate) fn fail(error: Error, code: i32) -> ! {
    let _ = writeln!(std::io::stderr(), "daemonic: {error}");
    std::process::exit(code)
}

/// Ends a command with its line and exit 0, or its error and LSB code.
fn finish(outcome: Result<impl Display, Error>) -> ! {
    match outcome {
        Ok(line) => {
            say(line);
            std::process::exit(SUCCESS)
        }
        // Not running is an answer, not a failure: on stdout, as `status` says it.
        Err(Error::NotRunning) => {
            say("not running");
            std::process::exit(code_of(&Error::NotRunning))
        }
        Err(error) => {
            let code = code_of(&error);
            fail(error, code)
        }
    }
}

/// Runs the command: `stop`, `status`, `reload` and `upgrade` print one
/// line and exit with the LSB init-script code; `restart` stops, then
/// starts; `start` detaches, or exits 0 when the daemon runs already. An
/// unknown word exits 2.
pub fn run(command: Result<Control, Error>, daemon: Daemon) -> Detached {
    // Started by an upgrade: it takes over, whatever its arguments say
    // (`restart`, say, which would stop the very process handing over).
    if crate::upgrade::is_hand_over() {
        return detach(daemon);
    }
    let command = command.unwrap_or_else(|error| fail(error, BAD_ARGUMENTS));
    match command {
        Control::Start => start(daemon),
        Control::Status => match daemon.status() {
            Ok(status) => {
                say(&status);
                std::process::exit(status.exit_code())
            }
            Err(error) => fail(error, UNKNOWN),
        },
        Control::Stop => finish(daemon.stop()),
        Control::Reload => finish(daemon.reload().map(|pid| format!("reloaded (pid {pid})"))),
        Control::Upgrade => finish(
            daemon
                .request_upgrade()
                .map(|(old, new)| format!("upgraded (pid {old} to {new})")),
        ),
        Control::Restart => {
            match daemon.stop() {
                Ok(stopped @ (Stopped::Terminated { .. } | Stopped::Killed { .. })) => say(stopped),
                Ok(_) => {}
                Err(error) => {
                    let code = code_of(&error);
                    fail(error, code)
                }
            }
            start(daemon)
        }
    }
}

/// `start` under `control`: as LSB has it, a daemon already running is
/// success, `already running (pid N)` and exit 0, and nothing starts.
/// "Running" is `status`'s word for it, so a pidfile whose holder is not
/// believed still fails the start.
fn start(daemon: Daemon) -> Detached {
    let again = daemon.clone();
    // SAFETY: as in `detach`.
    match unsafe { daemon.start() } {
        Ok(detached) => detached,
        Err(error @ Error::AlreadyRunning { .. }) => match again.status() {
            Ok(Status::Running { pid }) => {
                say(format_args!("already running (pid {pid})"));
                std::process::exit(SUCCESS)
            }
            _ => fail(error, FAILURE),
        },
        Err(error) => fail(error, FAILURE),
    }
}

/// Detaches, or ends the launcher with the error's one line.
pub fn detach(daemon: Daemon) -> Detached {
    // SAFETY: the first statement of `main`: the user's code has not run,
    // and the option values are consumed by the builder. A value that
    // leaves an fd owner behind (in a static) is ruled out by the
    // attribute's docs, as `Daemon::start` rules it out for its callers.
    unsafe { daemon.start() }.unwrap_or_else(|error| fail(error, FAILURE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_lsb_code() {
        let kept = Error::LockKept {
            pid: 1,
            path: "/p".into(),
        };
        assert_eq!(code_of(&kept), FAILURE);
        assert_eq!(code_of(&Error::StillAlive { pid: 1 }), FAILURE);
        assert_eq!(code_of(&Error::NoPidfile), UNKNOWN);
        assert_eq!(code_of(&Error::NotRunning), NOT_RUNNING);
        let unhandled = Error::SignalNotHandled {
            pid: 1,
            signal: 1,
            option: "reload_signal",
        };
        assert_eq!(code_of(&unhandled), UNIMPLEMENTED);
        assert_eq!(code_of(&Error::ExitedWithoutSuccessor { pid: 1 }), FAILURE);
        let late = Error::NotUpgraded {
            pid: 1,
            timeout: std::time::Duration::from_secs(1),
        };
        assert_eq!(code_of(&late), FAILURE);
    }
}

//! What the `#[daemon]` attribute's expansion calls, through `daemonic`'s
//! `__private` re-export. Not public API.

use std::io::Write;
use std::time::Duration;

pub use crate::control::lsb::{detach, run};
use crate::{Control, Error, IntoControl};

/// `ready_timeout`'s or `stop_timeout`'s seconds, or the launcher's one line
/// when they are not a duration above zero (zero, negative, NaN or infinite).
pub fn seconds(option: &str, seconds: f64) -> Duration {
    match Duration::try_from_secs_f64(seconds) {
        Ok(duration) if !duration.is_zero() => duration,
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "daemonic: {option} {seconds}: not a number of seconds above zero"
            );
            std::process::exit(1)
        }
    }
}

/// `reload_signal`'s number, from a name checked at compile time.
pub fn signal(name: &str) -> i32 {
    crate::signal_number(name).unwrap_or_else(|| {
        let _ = writeln!(
            std::io::stderr(),
            "daemonic: reload_signal {name:?}: no such signal"
        );
        std::process::exit(1)
    })
}

/// The `control` option's command, evaluated before anything else.
pub fn command(value: impl IntoControl) -> Result<Control, Error> {
    value.into_control()
}

/// What `main` returned, to be reported by [`ReportErr`] when it is a
/// `Result`, and else by [`ReportNothing`]: the expansion calls
/// `(&Returned(&result)).report()`, and method resolution takes the first
/// without autoref, the second with it.
pub struct Returned<'a, R>(pub &'a R);

/// Sends an error `main` returned to whoever waits for the daemon to be
/// ready, as std would print it.
pub trait ReportErr {
    /// Reports the error, if it is one.
    fn report(&self);
}

impl<T, E: std::fmt::Debug> ReportErr for Returned<'_, Result<T, E>> {
    fn report(&self) {
        if let Err(error) = self.0 {
            crate::not_ready(format!("main returned Error: {error:?}"));
        }
    }
}

/// Any other return type (`()`, `ExitCode`, ...) has no error to report.
pub trait ReportNothing {
    /// Does nothing.
    fn report(&self);
}

impl<R> ReportNothing for &Returned<'_, R> {
    fn report(&self) {}
}

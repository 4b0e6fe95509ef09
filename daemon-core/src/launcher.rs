//! The launcher's side: wait for the daemon's report and turn it into the outcome.

use std::fs::File;

use nix::errno::Errno;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use crate::report::Report;
use crate::Error;

/// Blocks until the daemon reports, or until every copy of the pipe's write
/// end is closed, which means the daemon died first.
pub(crate) fn await_report(pipe: File, intermediate: Pid) -> Result<(), Error> {
    let report = Report::read_from(&pipe);
    // The intermediate process exits right after the second fork; reap it so
    // that no zombie outlives a launcher embedded in a longer-lived program.
    while let Err(Errno::EINTR) = waitpid(intermediate, None) {}
    match report {
        Some(Report::Ready) => Ok(()),
        Some(Report::Failed(error)) => Err(error),
        None => Err(Error::Vanished),
    }
}

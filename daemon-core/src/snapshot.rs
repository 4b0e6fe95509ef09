//! The process before the fork, read at once from `/proc/self/status`: how
//! many threads it runs (`fork` copies only the calling one, so there must be
//! no other), and which signals it ignores or catches (the ones to reset).

use std::fs;

use nix::errno::Errno;

/// What the detach needs to know of the process it is about to fork.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot {
    /// The number of threads.
    pub(crate) threads: usize,
    /// Bit `n - 1` is set for each signal `n` that is ignored or caught.
    pub(crate) altered_signals: u64,
}

pub(crate) fn take() -> Result<Snapshot, Errno> {
    let status = fs::read("/proc/self/status")
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
    // Not read as UTF-8: the kernel cuts `Name:` at 15 bytes, which can
    // split a character of a program's name in two.
    parse(&String::from_utf8_lossy(&status)).ok_or(Errno::EINVAL)
}

fn parse(status: &str) -> Option<Snapshot> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    let mask = |name: &str| u64::from_str_radix(field(name)?, 16).ok();
    Some(Snapshot {
        threads: field("Threads")?.parse().ok()?,
        altered_signals: mask("SigIgn")? | mask("SigCgt")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_threads_and_the_signals_ignored_or_caught() {
        let status = "Name:\tapp\nThreads:\t3\nSigBlk:\t0000000000000004\n\
                      SigIgn:\t0000000000001000\nSigCgt:\t0000000000000440\n";
        let snapshot = parse(status).unwrap();
        assert_eq!(snapshot.threads, 3);
        assert_eq!(snapshot.altered_signals, 0x1440);
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
            assert!(take().unwrap().threads >= 2);
            stop.wait();
        });
    }
}

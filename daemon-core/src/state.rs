//! The process-wide state, in one struct: what the detach leaves behind for
//! the calls that come later (`ready`, `upgrade`, `listeners`,
//! `reopen_logs`, the daemon's exit), as signal-hook keeps its own.
//!
//! Every field starts empty, so the struct is a plain `static`: no lazy
//! initialisation that could run in a forked child with a lock held. The
//! only other global is `notify`'s thread-local marker of who holds
//! `launcher`, which is per thread by nature.

use std::os::fd::RawFd;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::Duration;

use crate::notify::PendingAck;
use crate::report::Sender;
use crate::upgrade::Origin;

/// The state of this process; see [`PROCESS`].
pub(crate) struct Process {
    /// The portable fallbacks the tests force on Linux (bits of
    /// `sys::fallback`).
    pub(crate) forced_fallbacks: AtomicU8,
    /// Set in the child of a PID 1: this process runs under its own init.
    pub(crate) under_init: AtomicBool,
    /// The listeners handed down (socket activation, an upgrade), by name,
    /// for [`listeners`](crate::listeners).
    pub(crate) listeners: Mutex<Vec<(String, RawFd)>>,
    /// The log paths the daemon's stdout and stderr were opened from.
    pub(crate) logs: Mutex<(Option<PathBuf>, Option<PathBuf>)>,
    /// The pipe to the launcher, until the first `ready`.
    pub(crate) launcher: Mutex<Option<Sender>>,
    /// systemd's notify socket, when systemd started this process as a
    /// `Type=notify` service. Connected once, at the start, and not per
    /// message as the `sd-notify` crate does: after a `chroot` its path is
    /// gone, and `READY=1` with it.
    pub(crate) systemd: OnceLock<UnixDatagram>,
    /// After an upgrade, until `ready`: what the new process needs to hear
    /// that the old one has handed over.
    pub(crate) take_over: Mutex<Option<PendingAck>>,
    /// What a later upgrade needs of the start: the binary, its arguments,
    /// the pidfile.
    pub(crate) origin: OnceLock<Origin>,
    /// An upgrade is running in this process.
    pub(crate) upgrading: AtomicBool,
    /// Set once a new process took over: this one must not remove the pidfile.
    pub(crate) handed_over: AtomicBool,
    /// The pid of this process once the old one acked its take-over: the
    /// pidfile is its own from then on. A pid, not a flag: a worker forked
    /// from it inherits the value, not the file.
    pub(crate) took_over: AtomicI32,
    /// The hand-over's pauses, for the tests, in milliseconds by stage.
    pub(crate) pauses: [AtomicU64; 3],
}

/// This process's state.
pub(crate) static PROCESS: Process = Process {
    forced_fallbacks: AtomicU8::new(0),
    under_init: AtomicBool::new(false),
    listeners: Mutex::new(Vec::new()),
    logs: Mutex::new((None, None)),
    launcher: Mutex::new(None),
    systemd: OnceLock::new(),
    take_over: Mutex::new(None),
    origin: OnceLock::new(),
    upgrading: AtomicBool::new(false),
    handed_over: AtomicBool::new(false),
    took_over: AtomicI32::new(0),
    pauses: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
};

impl Process {
    /// Whether a new process took the pidfile over from this one.
    pub(crate) fn handed_over(&self) -> bool {
        self.handed_over.load(Ordering::SeqCst)
    }

    /// Whether this process took the pidfile over from the one that started it.
    pub(crate) fn took_over(&self) -> bool {
        self.took_over.load(Ordering::SeqCst) == std::process::id() as i32
    }

    /// Notes that the old process acked this one's take-over.
    pub(crate) fn note_took_over(&self) {
        self.took_over
            .store(std::process::id() as i32, Ordering::SeqCst);
    }

    /// Sleeps as long as the tests asked at `stage`; at once otherwise.
    pub(crate) fn pause(&self, stage: Pause) {
        let millis = self.pauses[stage as usize].load(Ordering::SeqCst);
        if millis > 0 {
            thread::sleep(Duration::from_millis(millis));
        }
    }
}

/// The points of the hand-over that the tests widen, to replay a crash or a
/// delay there.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pause {
    /// In the new process, inside `ready()`, before its Ready is sent.
    BeforeReady = 0,
    /// In the old process, after it took the Ready, before its commit.
    BeforeCommit = 1,
    /// In the old process, between the commit's `pwrite` and `ftruncate`.
    BetweenPidWrites = 2,
}

/// Makes the hand-over sleep `pause` at `stage` (`before-ready`,
/// `before-commit` or `between-pid-writes`): for tests only. Unknown
/// stages are ignored.
pub fn pause_hand_over(stage: &str, pause: Duration) {
    let stage = match stage {
        "before-ready" => Pause::BeforeReady,
        "before-commit" => Pause::BeforeCommit,
        "between-pid-writes" => Pause::BetweenPidWrites,
        _ => return,
    };
    let millis = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX);
    PROCESS.pauses[stage as usize].store(millis, Ordering::SeqCst);
}

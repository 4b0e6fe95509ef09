//! The launch bench's per-step clock: with the `timings` feature, each step
//! of the sequence takes a `CLOCK_MONOTONIC` mark in the process that runs
//! it; without it, every function here is empty and inlined away.
//!
//! The marks stay in memory, in a fixed array (no allocation, no lock, no
//! system call: the vDSO reads the clock). A process writes its own marks,
//! as `ROLE STEP NANOS` lines, to the file that `DAEMONIC_TIMINGS` names,
//! in one `write` at its last step, when that variable is set: the bench
//! sets it only for the rounds that print the breakdown, so the rounds
//! that compare launch times pay for the marks alone.

#[cfg(feature = "timings")]
mod imp {
    use std::cell::UnsafeCell;
    use std::fmt::Write as _;
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use nix::libc;

    /// More than the sequence takes in any one process.
    const CAPACITY: usize = 64;

    /// A mark: the step's name and the clock's nanoseconds.
    type Mark = (&'static str, u64);

    struct Marks {
        role: UnsafeCell<&'static str>,
        marks: UnsafeCell<[Mark; CAPACITY]>,
        len: AtomicUsize,
    }

    // SAFETY: the marks are taken by the detach, which runs while the
    // process has one thread (it refuses to fork otherwise); the later
    // marks of the daemon are taken by the thread that called `start`.
    unsafe impl Sync for Marks {}

    static MARKS: Marks = Marks {
        role: UnsafeCell::new("launcher"),
        marks: UnsafeCell::new([("", 0); CAPACITY]),
        len: AtomicUsize::new(0),
    };

    fn now() -> u64 {
        let mut time = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes the timespec it is given.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut time) };
        time.tv_sec as u64 * 1_000_000_000 + time.tv_nsec as u64
    }

    pub(crate) fn mark(step: &'static str) {
        let at = now();
        let i = MARKS.len.fetch_add(1, Ordering::Relaxed);
        if i < CAPACITY {
            // SAFETY: one thread (see `Marks`), and `i` is in bounds.
            unsafe { (*MARKS.marks.get())[i] = (step, at) };
        }
    }

    pub(crate) fn forked(role: &'static str) {
        // The parent's marks are the parent's to write.
        MARKS.len.store(0, Ordering::Relaxed);
        // SAFETY: one thread, right after the fork.
        unsafe { *MARKS.role.get() = role };
    }

    pub(crate) fn write_out() {
        // The variable is the caller's: a set-id process writes nowhere it
        // names.
        if crate::sys::is_set_id() {
            return;
        }
        let Some(path) = std::env::var_os("DAEMONIC_TIMINGS") else {
            return;
        };
        let len = MARKS.len.load(Ordering::Relaxed).min(CAPACITY);
        // SAFETY: one thread (see `Marks`).
        let (role, marks) = unsafe { (*MARKS.role.get(), &(&*MARKS.marks.get())[..len]) };
        let mut lines = String::new();
        for (step, at) in marks {
            let _ = writeln!(lines, "{role} {step} {at}");
        }
        // One write, appended: the three processes share the file. Not
        // through a symlink, and never created here: the bench makes it.
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .append(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
        {
            let _ = file.write_all(lines.as_bytes());
        }
        MARKS.len.store(0, Ordering::Relaxed);
    }
}

#[cfg(not(feature = "timings"))]
mod imp {
    #[inline(always)]
    pub(crate) fn mark(_step: &'static str) {}

    #[inline(always)]
    pub(crate) fn forked(_role: &'static str) {}

    #[inline(always)]
    pub(crate) fn write_out() {}
}

/// Marks the end of `step`, in this process.
#[inline(always)]
pub(crate) fn mark(step: &'static str) {
    imp::mark(step)
}

/// In a child, right after `fork`: its marks start afresh, under `role`.
#[inline(always)]
pub(crate) fn forked(role: &'static str) {
    imp::forked(role)
}

/// This process's last step: its marks go to `DAEMONIC_TIMINGS`, if set.
#[inline(always)]
pub(crate) fn write_out() {
    imp::write_out()
}

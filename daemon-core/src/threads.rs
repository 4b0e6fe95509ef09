//! The thread check: `fork` copies only the calling thread, so it must find no other.

use std::fs;

use nix::errno::Errno;

/// The number of threads of this process, from `/proc/self/task`.
pub(crate) fn count() -> Result<usize, Errno> {
    let tasks = fs::read_dir("/proc/self/task")
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
    Ok(tasks.count())
}

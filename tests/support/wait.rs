//! Waiting, with a limit, for what a daemon does in its own time.

use std::fs;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

/// How long a daemon may take to stop or to write a line.
pub const EXIT: Duration = Duration::from_secs(10);

pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until the file holds a line that starts with `prefix`, and returns it.
pub fn wait_for_line(path: &Path, prefix: &str) -> String {
    let mut found = None;
    let seen = wait_until(EXIT, || {
        found = fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .find(|line| line.starts_with(prefix))
            .map(str::to_owned);
        found.is_some()
    });
    assert!(seen, "no line {prefix:?} in {}", path.display());
    found.unwrap()
}

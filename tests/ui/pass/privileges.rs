// Compiles the privilege options and runs whoever runs it: in the foreground
// (enable = false) the switch to the current user is allowed without root.
use std::os::unix::fs::MetadataExt;

fn null_fd() -> std::os::fd::RawFd {
    std::os::fd::IntoRawFd::into_raw_fd(std::fs::File::open("/dev/null").unwrap())
}

#[daemonic::daemon(
    enable = false,
    user = std::fs::metadata("/proc/self").unwrap().uid(),
    group = std::fs::metadata("/proc/self").unwrap().gid(),
    keep_fds = [null_fd()],
)]
fn main() {}

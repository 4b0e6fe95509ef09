// Compiles every privilege option; enable = false keeps it in the
// foreground, so it runs the same as root or not.
#[daemonic::daemon(
    enable = false,
    user = "root",
    group = 0,
    chroot = "/",
    keep_fds = [3, 4],
)]
fn main() {}

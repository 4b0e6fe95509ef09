#[daemonic::daemon(keep_fds = [3, -1])]
fn main() {}

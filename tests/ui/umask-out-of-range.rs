#[daemonic::daemon(umask = 0o1000)]
fn main() {}

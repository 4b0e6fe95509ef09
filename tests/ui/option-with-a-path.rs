#[daemonic::daemon(umask::x = 1)]
fn main() {}

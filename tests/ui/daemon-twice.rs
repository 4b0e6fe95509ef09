#[daemonic::daemon(umask = 0o027)]
#[daemonic::daemon(umask = 0o077)]
fn main() {}

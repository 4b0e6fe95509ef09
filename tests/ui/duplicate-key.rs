#[daemonic::daemon(umask = 0o027, workdir = "/", umask = 0o077)]
fn main() {}

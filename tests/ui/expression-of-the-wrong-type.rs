#[daemonic::daemon(umask = "0o027".len())]
fn main() {}

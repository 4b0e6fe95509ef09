#[daemonic::daemon(umask = (0o7777))]
fn main() {}

#[daemonic::daemon(umask = "027")]
fn main() {}

#[daemonic::daemon(pidfile)]
fn main() {}

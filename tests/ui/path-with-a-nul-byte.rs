#[daemonic::daemon(pidfile = "/tmp/app\0.pid")]
fn main() {}

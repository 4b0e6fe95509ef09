#[daemonic::daemon(pidfile = "/tmp/app.pid", umaks = 0o027)]
fn main() {}

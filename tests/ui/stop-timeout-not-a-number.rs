#[daemonic::daemon(pidfile = "/tmp/app.pid", control = "stop", stop_timeout = "5s")]
fn main() {}

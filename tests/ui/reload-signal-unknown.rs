#[daemonic::daemon(pidfile = "/tmp/app.pid", reload_signal = "SIGRELOAD")]
fn main() {}

#[daemonic::daemon(pidfile = "/tmp/app.pid", control = "strat")]
fn main() {}

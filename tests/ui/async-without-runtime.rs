#[daemonic::daemon(pidfile = "/tmp/app.pid")]
async fn main() {}

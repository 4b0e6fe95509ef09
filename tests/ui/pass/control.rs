//! The forms `control` takes: an `Option<String>`, an `Option<&str>`, a
//! `&str` and the enum; with `stop_timeout` and `reload_signal`.

#[daemonic::daemon(
    pidfile = "/tmp/app.pid",
    control = std::env::args().nth(1),
    stop_timeout = 2.5,
    reload_signal = "SIGUSR1",
)]
fn main() {}

#[allow(dead_code)]
mod others {
    #[daemonic::daemon(pidfile = "/tmp/app.pid", control = Some("status"), reload_signal = 10)]
    fn main() {}
}

#[allow(dead_code)]
mod enum_form {
    #[daemonic::daemon(pidfile = "/tmp/app.pid", control = daemonic::Control::Status)]
    fn main() {}
}

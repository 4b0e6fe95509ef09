//! Logs that survive rotation. The daemon has no terminal, so SIGHUP is free
//! to mean "reload", as it does for nginx and sshd: on SIGHUP this daemon
//! reopens its log files in place, after logrotate has moved them.
//!
//! ```sh
//! cargo run --example reopen_on_sighup
//! mv /tmp/daemonic-rotate.log /tmp/daemonic-rotate.log.1
//! kill -HUP "$(cat /tmp/daemonic-rotate.pid)"   # the next line starts a new file
//! kill "$(cat /tmp/daemonic-rotate.pid)"
//! ```
//!
//! With logrotate, the same thing is a `postrotate` script:
//! `kill -HUP "$(cat /tmp/daemonic-rotate.pid)"`.

use tokio::signal::unix::{signal, SignalKind};

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[daemonic::daemon(
    ready = "notify",
    pidfile = setting("APP_PIDFILE", "/tmp/daemonic-rotate.pid"),
    stdout = setting("APP_LOG", "/tmp/daemonic-rotate.log"),
    stderr = setting("APP_LOG", "/tmp/daemonic-rotate.log"),
)]
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    println!("started, pid {}", std::process::id());
    // Ready once both signals are handled, so the launcher's exit means that
    // SIGHUP and SIGTERM are safe to send.
    daemonic::ready();
    loop {
        tokio::select! {
            _ = hangup.recv() => match daemonic::reopen_logs() {
                Ok(()) => {
                    println!("logs reopened");
                    eprintln!("stderr reopened too");
                }
                // Still the old file: better there than nowhere.
                Err(error) => eprintln!("daemonic: {error}"),
            },
            _ = terminate.recv() => {
                println!("stopping");
                return Ok(());
            }
        }
    }
}

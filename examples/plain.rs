//! A plain daemon: it detaches, logs to a file, and stops cleanly on SIGTERM,
//! which removes its pidfile. Its launcher exits once it is ready for that.
//!
//! ```sh
//! cargo run --example plain
//! cat /tmp/daemonic-plain.pid /tmp/daemonic-plain.log
//! kill "$(cat /tmp/daemonic-plain.pid)"
//! ```
//!
//! `APP_WORKDIR`, `APP_PIDFILE` and `APP_LOG` override the paths: attribute
//! values may be any expression, evaluated before the first fork.

use nix::sys::signal::{SigSet, Signal};

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[daemonic::daemon(
    ready = "notify",
    umask = 0o027,
    workdir = setting("APP_WORKDIR", "/"),
    pidfile = setting("APP_PIDFILE", "/tmp/daemonic-plain.pid"),
    stdout = setting("APP_LOG", "/tmp/daemonic-plain.log"),
    stderr = setting("APP_LOG", "/tmp/daemonic-plain.log"),
)]
fn main() {
    // Blocked signals wait for sigwait: no handler, no thread.
    let mut stop = SigSet::empty();
    stop.add(Signal::SIGTERM);
    stop.add(Signal::SIGINT);
    stop.thread_block().expect("block SIGTERM and SIGINT");

    println!("started, pid {}", std::process::id());
    // Ready once SIGTERM would stop it cleanly: only now does the launcher exit.
    daemonic::ready();
    eprintln!("stderr goes to the log too");
    let signal = stop.wait().expect("wait for a signal");
    println!("{signal} received, stopping");
    // Returning from main drops the guard, which removes the pidfile.
}

//! A service run by its own binary: `service [start|stop|status|reload|restart]`.
//!
//! ```sh
//! cargo build --example service
//! target/debug/examples/service start     # detaches; the launcher exits 0 once it is ready
//! target/debug/examples/service status    # running (pid 4242), exit 0
//! target/debug/examples/service reload    # reloaded (pid 4242): SIGHUP, logged
//! target/debug/examples/service restart   # stopped (pid 4242), then a new daemon
//! target/debug/examples/service stop      # stopped (pid 4243), exit 0 once it is gone
//! target/debug/examples/service status    # not running, exit 3
//! ```
//!
//! The commands find the daemon by the pidfile's lock, never by the pid
//! alone, and exit with the LSB init-script codes, so a SysV init script or
//! an OpenRC service runs them as they are: see `examples/init/`.
//! `APP_PIDFILE`, `APP_LOG` and `APP_STOP_TIMEOUT` override the defaults.

use std::io::Write;

use nix::sys::signal::{SigSet, Signal};

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[daemonic::daemon(
    control = std::env::args().nth(1),
    ready = "notify",
    pidfile = setting("APP_PIDFILE", "/tmp/daemonic-service.pid"),
    stdout = setting("APP_LOG", "/tmp/daemonic-service.log"),
    stderr = setting("APP_LOG", "/tmp/daemonic-service.log"),
    stop_timeout = setting("APP_STOP_TIMEOUT", "10").parse::<f64>().expect("seconds"),
)]
fn main() {
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGHUP);
    // A service that ignores SIGTERM, for the SIGKILL that `stop` then sends.
    let stubborn = std::env::var_os("APP_IGNORE_SIGTERM").is_some();
    if stubborn {
        // SAFETY: SIG_IGN installs no handler code.
        unsafe { nix::libc::signal(nix::libc::SIGTERM, nix::libc::SIG_IGN) };
    } else {
        signals.add(Signal::SIGTERM);
        signals.add(Signal::SIGINT);
    }
    signals.thread_block().expect("block the signals");
    println!("started, pid {}", std::process::id());
    daemonic::ready();
    loop {
        match signals.wait().expect("wait for a signal") {
            Signal::SIGHUP => {
                // What a reload would do: read the configuration again.
                println!("reloading, pid {}", std::process::id());
                let _ = std::io::stdout().flush();
            }
            signal => {
                println!("{signal} received, stopping");
                break;
            }
        }
    }
}

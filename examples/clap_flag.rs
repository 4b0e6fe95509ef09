//! The classic `-d/--daemon` flag with clap: `enable` decides at run time,
//! before any fork, whether to detach.
//!
//! ```sh
//! cargo run --example clap_flag                 # foreground, Ctrl-C stops it
//! cargo run --example clap_flag -- --daemon     # detached
//! kill "$(cat /tmp/daemonic-clap.pid)"
//! ```

use std::path::PathBuf;
use std::sync::OnceLock;

use clap::Parser;
use nix::sys::signal::{SigSet, Signal};

#[derive(Parser)]
struct Cli {
    /// Detach and run in the background.
    #[arg(short, long)]
    daemon: bool,
    /// Where the pid is written, in the foreground too.
    #[arg(long, default_value = "/tmp/daemonic-clap.pid")]
    pidfile: PathBuf,
}

/// Parsed once, in the attribute's values, before the detach; `--help` and
/// bad arguments end the program there, on the terminal.
fn cli() -> &'static Cli {
    static CLI: OnceLock<Cli> = OnceLock::new();
    CLI.get_or_init(Cli::parse)
}

#[daemonic::daemon(
    enable = cli().daemon,
    pidfile = cli().pidfile.clone(),
    ready = "notify",
)]
fn main() {
    let mut stop = SigSet::empty();
    stop.add(Signal::SIGTERM);
    stop.add(Signal::SIGINT);
    stop.thread_block().expect("block SIGTERM and SIGINT");
    // A no-op in the foreground; detached, it releases the launcher.
    daemonic::ready();
    stop.wait().expect("wait for a signal");
}

//! A TCP server that upgrades to a new binary without refusing a connection.
//! Each connection is answered with the server's version and pid; SIGUSR2
//! starts the binary found at the same path again, hands it the listening
//! socket, and once it is ready, this one stops accepting, drains and exits.
//!
//! ```sh
//! cargo build --example upgrade && cp target/debug/examples/upgrade /tmp/app
//! APP_ADDR=127.0.0.1:8080 /tmp/app                 # v1, detached; prints its addr
//! APP_VERSION=2 cargo build --example upgrade      # build v2
//! cp target/debug/examples/upgrade /tmp/app.new && mv /tmp/app.new /tmp/app
//! kill -USR2 "$(cat /tmp/daemonic-upgrade.pid)"     # v2 takes over; no connection is refused
//! ```
//!
//! Started by `systemd-socket-activate -l 127.0.0.1:8080 /tmp/app`, it serves
//! on the socket handed to it instead of binding its own.

use std::os::fd::AsFd;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinSet;

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// The build's version: `APP_VERSION` at build time, which the environment
/// at run time overrides.
fn version() -> String {
    std::env::var("APP_VERSION")
        .ok()
        .or(option_env!("APP_VERSION").map(str::to_owned))
        .unwrap_or_else(|| "1".to_owned())
}

#[daemonic::daemon(
    control = std::env::args().nth(1),
    ready = "notify",
    pidfile = setting("APP_PIDFILE", "/tmp/daemonic-upgrade.pid"),
    stdout = setting("APP_LOG", "/tmp/daemonic-upgrade.log"),
    stderr = setting("APP_LOG", "/tmp/daemonic-upgrade.log"),
    ready_timeout = setting("APP_READY_TIMEOUT", "30").parse::<f64>().expect("seconds"),
)]
#[tokio::main]
async fn main() -> std::io::Result<()> {
    // Handed down by an upgrade or by systemd's socket activation, or bound.
    let listener = match daemonic::listeners().into_iter().next() {
        Some((_, fd)) => {
            let listener = std::net::TcpListener::from(fd);
            listener.set_nonblocking(true)?;
            TcpListener::from_std(listener)?
        }
        None => TcpListener::bind(setting("APP_ADDR", "127.0.0.1:0")).await?,
    };
    let (version, pid) = (version(), std::process::id());
    println!("v{version}, pid {pid}, serving {}", listener.local_addr()?);
    daemonic::status(format!("addr: {}", listener.local_addr()?));
    let mut upgrade_signal = signal(SignalKind::user_defined2())?;
    let mut terminate = signal(SignalKind::terminate())?;
    daemonic::ready();
    let mut connections = JoinSet::new();
    let mut upgrading = None;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (mut stream, _) = accepted?;
                let answer = format!("v{version} pid {pid}\n");
                connections.spawn(async move {
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
            _ = upgrade_signal.recv(), if upgrading.is_none() => {
                // On a thread of its own: this one keeps accepting meanwhile.
                let socket = listener.as_fd().try_clone_to_owned()?;
                upgrading = Some(tokio::task::spawn_blocking(move || {
                    daemonic::upgrade(&[("http", socket.as_fd())])
                }));
            }
            upgraded = async { upgrading.as_mut().expect("guarded").await }, if upgrading.is_some() => {
                upgrading = None;
                match upgraded.expect("the upgrade thread") {
                    Ok(new) => {
                        println!("upgraded to pid {new}; draining");
                        break;
                    }
                    Err(error) => println!("upgrade failed: {error}; serving on"),
                }
            }
            _ = terminate.recv() => break,
            Some(_) = connections.join_next() => {}
        }
    }
    // Stop accepting: the new process takes the connections still queued.
    drop(listener);
    while connections.join_next().await.is_some() {}
    println!("v{version}, pid {pid}, exits");
    Ok(())
}

//! A tokio TCP server that detaches before its runtime starts, and releases
//! its launcher only once it listens: the launcher prints the server's
//! `addr: 127.0.0.1:PORT` line, then exits 0.
//!
//! ```sh
//! cargo run --example tokio_server
//! kill "$(cat /tmp/daemonic-tokio.pid)"
//! ```
//!
//! Under systemd (`Type=notify`, so `NOTIFY_SOCKET` is set) it does not fork,
//! and the same calls send `STATUS=addr: ...` and `READY=1`.

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

// #[daemon] goes above #[tokio::main]: the detach runs first, in a process
// with one thread, and the runtime's worker threads start in the daemon.
#[daemonic::daemon(
    ready = "notify",
    umask = 0o027,
    pidfile = setting("APP_PIDFILE", "/tmp/daemonic-tokio.pid"),
    stdout = setting("APP_LOG", "/tmp/daemonic-tokio.log"),
)]
#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(setting("APP_ADDR", "127.0.0.1:0")).await?;
    let addr = format!("addr: {}", listener.local_addr()?);
    println!("{addr}");
    daemonic::status(addr);
    daemonic::ready();
    let mut terminate = signal(SignalKind::terminate())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (mut stream, _) = accepted?;
                tokio::spawn(async move {
                    let greeting = format!("hello from pid {}\n", std::process::id());
                    let _ = stream.write_all(greeting.as_bytes()).await;
                });
            }
            _ = terminate.recv() => return Ok(()),
        }
    }
}

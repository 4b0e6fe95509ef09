//! A daemon's server from outside: one connection and what it answered,
//! and systemd's socket activator listening in front of it.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;

use super::{Sandbox, EXIT};

/// One connection's answer, such as `v1 pid 4242`.
pub fn ask(addr: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(EXIT))?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer.trim_end().to_owned())
}

/// `systemd-socket-activate` listening on a free local port as `http`, for
/// a program that gets the sandbox's token and `APP_PIDFILE` and `APP_LOG`
/// (it passes on only the variables it is given with `-E`); the caller adds
/// its own `-E`s, then the program. The command, and the address.
pub fn socket_activator(sandbox: &Sandbox, pidfile: &Path, log: &Path) -> (Command, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut activator = sandbox.command_for("systemd-socket-activate");
    let pass = |name: &str, value: &Path| format!("{name}={}", value.display());
    activator
        .args(["-l", &addr, "--fdname=http"])
        .args(["-E", &sandbox.token_assignment()])
        .args(["-E", &pass("APP_PIDFILE", pidfile)])
        .args(["-E", &pass("APP_LOG", log)]);
    (activator, addr)
}

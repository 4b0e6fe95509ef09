//! A client of a daemon's server: one connection, and what it answered.

use std::io::Read;
use std::net::TcpStream;

use super::EXIT;

/// One connection's answer, such as `v1 pid 4242`.
pub fn ask(addr: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(EXIT))?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer.trim_end().to_owned())
}

//! `examples/service.rs` run against a pidfile, one command to its exit.

use std::ffi::OsStr;
use std::path::Path;

use super::{Launch, Running, Sandbox};

/// Runs `service COMMAND` against `pidfile`, to its exit, its log beside it
/// in the sandbox and `env` added.
pub fn service(sandbox: &Sandbox, pidfile: &Path, command: &str, env: &[(&str, &OsStr)]) -> Launch {
    let mut service = sandbox.command("service");
    service
        .arg(command)
        .env("APP_PIDFILE", pidfile)
        .env("APP_LOG", sandbox.path("service.log"))
        .envs(env.iter().copied());
    Running::spawn(service).wait()
}

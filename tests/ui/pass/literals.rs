// Runs: with no pidfile, the daemon exits as soon as main returns.
#[daemonic::daemon(umask = 0o077, workdir = "/", stdout = "/dev/null", stderr = "/dev/null")]
fn main() {}

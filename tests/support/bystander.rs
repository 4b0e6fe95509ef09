//! A process that is not the daemon, to show that nothing signalled it.

use std::ffi::OsStr;
use std::fs;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use super::{alive, catches_sigterm, wait_until, Running, Sandbox, EXIT};

/// A process that is not the daemon (`fixture-bystander`), for a stale or
/// forged pidfile or frame to name. It records every catchable signal it
/// gets, so that "untouched" means no signal at all, not only "alive".
pub struct Bystander {
    pub pid: i32,
    marker: PathBuf,
    _running: Running,
}

impl Sandbox {
    pub fn bystander(&self, name: &str) -> Bystander {
        self.bystander_with(name, &[])
    }

    /// [`Sandbox::bystander`], with more of its environment (`APP_HOLD`).
    pub fn bystander_with(&self, name: &str, env: &[(&str, &OsStr)]) -> Bystander {
        let marker = self.path(&format!("{name}.signals"));
        let mut command = self.command("fixture-bystander");
        command.env("APP_MARKER", &marker).envs(env.iter().copied());
        let running = Running::spawn(command);
        // Its handlers are in place before the test goes on.
        assert!(
            wait_until(EXIT, || catches_sigterm(running.pid)),
            "the bystander never caught its signals"
        );
        Bystander {
            pid: running.pid,
            marker,
            _running: running,
        }
    }
}

impl Bystander {
    /// Alive, and no signal arrived.
    pub fn assert_untouched(&self) {
        // A signal sent just now has its handler run first.
        thread::sleep(Duration::from_millis(100));
        assert!(alive(self.pid), "the bystander {} was killed", self.pid);
        let got = fs::read_to_string(&self.marker).unwrap_or_default();
        assert_eq!(got, "", "the bystander {} got these signals", self.pid);
    }
}

/// The daemon's own code writes a second pid frame, naming a bystander, to
/// its launcher, and is never ready: at the timeout the launcher stops the
/// daemon, its own child, and signals nobody else. `env` adds to the
/// fixture's environment (the portable fallbacks, say).
pub fn assert_a_forged_pid_frame_signals_nobody_else(env: &[(&str, &OsStr)]) {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let bystander = sandbox.bystander("bystander");
    let forged = format!("pid:{}", bystander.pid);
    let mut command = sandbox.command("fixture-forge");
    command
        .env("APP_PIDFILE", &pidfile)
        .env("APP_FORGE", &forged)
        .envs(env.iter().copied());
    let launch = Running::spawn(command).wait();
    assert_eq!(
        launch.stderr,
        "daemonic: the daemon was not ready after 1s, so it was stopped\n"
    );
    bystander.assert_untouched();
    assert!(
        wait_until(EXIT, || sandbox.processes() == [bystander.pid]),
        "the real daemon was left running: {:?}",
        sandbox.processes()
    );
    assert!(!pidfile.exists());
}

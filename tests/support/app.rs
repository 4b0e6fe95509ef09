//! A fixture copied into a sandbox as `app`, the path an upgrade starts
//! again: the hand-over tests' and the activation tests' program.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{alive, daemon_pid, wait_for_sigwait, wait_until, Launch, Running, Sandbox, EXIT};

/// A fixture copied into the sandbox as `app`, the path an upgrade starts
/// again, with its pidfile, its log and the environment of the test.
pub struct App {
    pub path: PathBuf,
    pub pidfile: PathBuf,
    pub log: PathBuf,
    pub env: Vec<(&'static str, String)>,
}

impl App {
    pub fn new(sandbox: &Sandbox, fixture: &str, env: &[(&'static str, &str)]) -> App {
        App::in_dir(sandbox, fixture, &sandbox.path(""), env)
    }

    /// Its pidfile and log in `dir`.
    pub fn in_dir(
        sandbox: &Sandbox,
        fixture: &str,
        dir: &Path,
        env: &[(&'static str, &str)],
    ) -> App {
        App {
            path: sandbox.copy_binary(fixture, "app"),
            pidfile: dir.join("app.pid"),
            log: dir.join("app.log"),
            env: env.iter().map(|&(k, v)| (k, v.to_owned())).collect(),
        }
    }

    /// `PROGRAM [COMMAND]`, with the app's settings.
    pub fn command_of(&self, sandbox: &Sandbox, program: &Path, command: Option<&str>) -> Command {
        let mut run = sandbox.command_for(program);
        run.args(command)
            .env("APP_PIDFILE", &self.pidfile)
            .env("APP_LOG", &self.log)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        run
    }

    /// `app COMMAND`, to its exit.
    pub fn run(&self, sandbox: &Sandbox, command: &str) -> Launch {
        Running::spawn(self.command_of(sandbox, &self.path, Some(command))).wait()
    }

    /// Starts it detached; its pid, once it waits for its signals.
    pub fn start(&self, sandbox: &Sandbox) -> i32 {
        let launch = Running::spawn(self.command_of(sandbox, &self.path, None)).wait();
        let pid = daemon_pid(&launch, &self.pidfile);
        wait_for_sigwait(pid);
        pid
    }

    /// Puts a shell script at the app's path, by a rename, as an install
    /// does: the next upgrade starts it.
    pub fn install_script(&self, sandbox: &Sandbox, script: &str) {
        let new_path = sandbox.path("app.new");
        fs::write(&new_path, format!("#!/bin/sh\n{script}\n")).unwrap();
        fs::set_permissions(&new_path, fs::Permissions::from_mode(0o755)).unwrap();
        fs::rename(&new_path, &self.path).unwrap();
    }

    /// The pid on the pidfile's first line, if it has a whole one: between
    /// the old process's write of the new pid and its truncation, a longer
    /// old pid may leave digits on a second line.
    pub fn first_line_pid(&self) -> Option<i32> {
        let text = fs::read_to_string(&self.pidfile).ok()?;
        let (line, _) = text.split_once('\n')?;
        line.trim().parse().ok()
    }

    /// Sends SIGUSR2 to `old`, and waits until the pidfile's first line names
    /// another pid: the old process's commit has written it. That pid.
    pub fn upgrade_until_committed(&self, old: i32) -> i32 {
        kill(Pid::from_raw(old), Signal::SIGUSR2).unwrap();
        let mut new = None;
        assert!(
            wait_until(EXIT, || {
                new = self.first_line_pid().filter(|&pid| pid != old);
                new.is_some()
            }),
            "the pidfile never named a new pid: {:?}; log {:?}",
            fs::read_to_string(&self.pidfile),
            fs::read_to_string(&self.log)
        );
        new.unwrap()
    }

    /// [`App::upgrade_until_committed`], and then the old process gone: the
    /// hand-over is done. The new pid.
    pub fn upgrade(&self, old: i32) -> i32 {
        let new = self.upgrade_until_committed(old);
        assert!(wait_until(EXIT, || !alive(old)), "the old process stayed");
        new
    }
}

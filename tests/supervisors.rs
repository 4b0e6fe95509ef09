//! Supervisors that want the foreground, run for real: runit's `runsv`
//! starts `examples/service.rs` with `DAEMONIC_FOREGROUND=1`, and `sv`
//! signals and stops it. `.ci/run` installs runit; without it the test says
//! it skipped.
#![cfg(target_os = "linux")]

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::{alive, wait_until, Sandbox, EXIT};

/// `runsv` for one service directory, ended by pid on drop.
struct Runsv(std::process::Child);

impl Drop for Runsv {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.0.id() as i32), Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

fn sv(args: &[&str], service: &std::path::Path) -> String {
    let output = Command::new("sv")
        .args(args)
        .arg(service)
        .output()
        .expect("run sv");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The pid `sv status` names: `run: DIR: (pid N) 3s`.
fn supervised_pid(service: &std::path::Path) -> Option<i32> {
    let status = sv(&["status"], service);
    let rest = status.strip_prefix("run: ")?;
    let pid = rest.split("(pid ").nth(1)?.split(')').next()?;
    pid.parse().ok()
}

/// runit starts the service in the foreground: the process it supervises
/// is the service itself, not a launcher that exits, so `sv status` keeps
/// naming it, and the pidfile names the same pid. `sv hup` reaches it (its
/// reload is logged), and `sv down` stops it, with its pidfile removed.
#[test]
fn runit_supervises_the_service_in_the_foreground() {
    let test = "runit_supervises_the_service_in_the_foreground";
    if !support::is_root(test) {
        return;
    }
    if Command::new("runsv").arg("--help").output().is_err() {
        support::skipped(test, "it needs runit");
        return;
    }
    let sandbox = Sandbox::new();
    let service = sandbox.path("sv/app");
    fs::create_dir_all(&service).unwrap();
    let pidfile = sandbox.path("app.pid");
    let log = sandbox.path("app.log");
    let run = service.join("run");
    fs::write(
        &run,
        format!(
            "#!/bin/sh\nexec env DAEMONIC_FOREGROUND=1 APP_PIDFILE={} APP_LOG={} {} >>{} 2>&1\n",
            pidfile.display(),
            log.display(),
            support::example("service").display(),
            log.display(),
        ),
    )
    .unwrap();
    fs::set_permissions(&run, fs::Permissions::from_mode(0o755)).unwrap();
    let runsv = Runsv(
        sandbox
            .command_for("runsv")
            .arg(&service)
            .spawn()
            .expect("start runsv"),
    );
    let mut pid = None;
    assert!(
        wait_until(EXIT, || {
            pid = supervised_pid(&service);
            pid.is_some_and(|pid| {
                fs::read_to_string(&pidfile).is_ok_and(|text| text == format!("{pid}\n"))
            })
        }),
        "sv status: {:?}, pidfile {:?}",
        sv(&["status"], &service),
        fs::read_to_string(&pidfile)
    );
    let pid = pid.unwrap();
    // Still the same process a moment later: nothing detached from runit.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(supervised_pid(&service), Some(pid));
    support::wait_for_sigwait(pid);
    sv(&["hup"], &service);
    support::wait_for_line(&log, &format!("reloading, pid {pid}"));
    sv(&["down"], &service);
    assert!(wait_until(EXIT, || !alive(pid)), "sv down left {pid}");
    assert!(sv(&["status"], &service).starts_with("down: "));
    assert!(wait_until(EXIT, || !pidfile.exists()));
    drop(runsv);
}

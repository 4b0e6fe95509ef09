//! PID 1: the program as the entrypoint of a real PID namespace
//! (`unshare --pid --fork --mount-proc`, as Docker and Kubernetes make one),
//! observed from outside, in the cases tini's own suite checks. Needs root.
#![cfg(target_os = "linux")]

mod support;

use std::fs;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::{
    alive, is_root, skipped, wait_for_sigwait, wait_until, Launch, Running, Sandbox, EXIT,
};

/// `fixture-init` as PID 1 of a new PID namespace, doing `what`.
struct Namespace {
    running: Option<Running>,
    /// `unshare`, whose child is the namespace's PID 1.
    unshare: i32,
}

impl Namespace {
    fn start(sandbox: &Sandbox, what: &str) -> Namespace {
        let mut command = sandbox.command_for("unshare");
        command
            .args(["--pid", "--fork", "--mount-proc"])
            .arg(support::example("fixture-init"))
            .env("APP_PIDFILE", sandbox.path("app.pid"))
            .env("INIT_DO", what);
        Namespace::spawn(command)
    }

    /// An `unshare` command, started.
    fn spawn(command: std::process::Command) -> Namespace {
        let running = Running::spawn(command);
        Namespace {
            unshare: running.pid,
            running: Some(running),
        }
    }

    /// The namespace's PID 1 (its init), as seen from outside.
    fn init(&self) -> i32 {
        let mut init = None;
        assert!(
            wait_until(EXIT, || {
                init = children(self.unshare).first().copied();
                init.is_some()
            }),
            "unshare started no PID 1"
        );
        init.unwrap()
    }

    /// The program under the init, once it runs (it is the init's child).
    fn program(&self) -> i32 {
        let init = self.init();
        let mut program = None;
        assert!(
            wait_until(EXIT, || {
                program = children(init).first().copied();
                program.is_some()
            }),
            "PID 1 ({init}) has no child"
        );
        program.unwrap()
    }

    /// Waits for the namespace to end: `unshare`'s exit, which is PID 1's.
    fn end(mut self) -> Launch {
        self.running.take().expect("running").wait()
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // Killed by pid: PID 1's death ends the whole namespace.
        if self.running.is_some() {
            if let Some(&init) = children(self.unshare).first() {
                let _ = kill(Pid::from_raw(init), Signal::SIGKILL);
            }
        }
    }
}

/// The children of `pid`, from `/proc`.
fn children(pid: i32) -> Vec<i32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|child| child.parse().ok())
        .collect()
}

fn state(pid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// Whether `unshare` is here and this is root; says why not.
fn can_run(test: &str) -> bool {
    if !is_root(test) {
        return false;
    }
    let found = std::process::Command::new("unshare")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        skipped(test, "it needs unshare (util-linux)");
    }
    found
}

/// Every exit code from 0 to 255 comes out of the namespace as it is.
#[test]
fn exit_codes_from_0_to_255_pass_through() {
    if !can_run("exit_codes_from_0_to_255_pass_through") {
        return;
    }
    let sandbox = Sandbox::new();
    for code in 0..=255 {
        let ended = Namespace::start(&sandbox, &format!("exit:{code}")).end();
        assert_eq!(ended.status.code(), Some(code), "{ended:?}");
    }
}

/// A program that dies of signal N ends the namespace with 128+N.
#[test]
fn a_program_killed_by_signal_n_gives_128_plus_n() {
    if !can_run("a_program_killed_by_signal_n_gives_128_plus_n") {
        return;
    }
    let sandbox = Sandbox::new();
    for signal in [
        Signal::SIGKILL,
        Signal::SIGSEGV,
        Signal::SIGTERM,
        Signal::SIGABRT,
    ] {
        let ended = Namespace::start(&sandbox, &format!("signal:{}", signal as i32)).end();
        assert_eq!(
            ended.status.code(),
            Some(128 + signal as i32),
            "{signal}: {ended:?}"
        );
    }
}

/// SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGUSR2 sent to PID 1 from outside
/// (as `docker stop` and `docker kill -s` do) reach a program without
/// handlers, which dies of it: the namespace ends with 128+N. Without the
/// init, PID 1 would ignore each of them.
#[test]
fn signals_sent_to_pid_1_reach_a_program_without_handlers() {
    if !can_run("signals_sent_to_pid_1_reach_a_program_without_handlers") {
        return;
    }
    let sandbox = Sandbox::new();
    for signal in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ] {
        let namespace = Namespace::start(&sandbox, "wait");
        let program = namespace.program();
        assert!(wait_until(EXIT, || state(program) == Some('S')));
        kill(Pid::from_raw(namespace.init()), signal).unwrap();
        let ended = namespace.end();
        assert_eq!(
            ended.status.code(),
            Some(128 + signal as i32),
            "{signal}: {ended:?}"
        );
    }
}

/// A program that handles SIGTERM, sent to PID 1, exits 0, and so does the
/// namespace.
#[test]
fn a_program_that_handles_sigterm_exits_0() {
    if !can_run("a_program_that_handles_sigterm_exits_0") {
        return;
    }
    let sandbox = Sandbox::new();
    let namespace = Namespace::start(&sandbox, "handle-term");
    let program = namespace.program();
    wait_for_sigwait(program);
    kill(Pid::from_raw(namespace.init()), Signal::SIGTERM).unwrap();
    let ended = namespace.end();
    assert_eq!(ended.status.code(), Some(0), "{ended:?}");
    assert!(ended.stdout.contains("SIGTERM handled"), "{ended:?}");
}

/// Three grandchildren orphaned to PID 1 are reaped as they end: none stays
/// a zombie under it, while the program runs on.
#[test]
fn orphans_reparented_to_pid_1_leave_no_zombie() {
    if !can_run("orphans_reparented_to_pid_1_leave_no_zombie") {
        return;
    }
    let sandbox = Sandbox::new();
    let namespace = Namespace::start(&sandbox, "orphans");
    let program = namespace.program();
    // The three sleeps become PID 1's children, then end.
    let mut seen = 0;
    let orphans_came = wait_until(EXIT, || {
        seen = seen.max(children(namespace.init()).len().saturating_sub(1));
        seen >= 3
    });
    assert!(orphans_came, "the orphans never reached PID 1");
    assert!(
        wait_until(EXIT, || children(namespace.init()) == [program]),
        "left under PID 1: {:?}",
        children(namespace.init())
            .iter()
            .map(|&pid| (pid, state(pid)))
            .collect::<Vec<_>>()
    );
    assert!(alive(program));
}

/// The program's own `Command::status()` gets its child's exit code: the
/// init reaps only what is its own.
#[test]
fn the_programs_own_children_are_its_own_to_wait_for() {
    if !can_run("the_programs_own_children_are_its_own_to_wait_for") {
        return;
    }
    let sandbox = Sandbox::new();
    let ended = Namespace::start(&sandbox, "command-status").end();
    assert_eq!(ended.status.code(), Some(0), "{ended:?}");
    assert!(ended.stdout.contains("sh exited with Some(7)"), "{ended:?}");
}

/// As PID 1 with the default options, the program does not detach: it
/// runs, as PID 2 under the init, the pidfile names it, and the namespace
/// lives on instead of ending at once.
#[test]
fn as_pid_1_the_program_runs_and_the_namespace_lives() {
    if !can_run("as_pid_1_the_program_runs_and_the_namespace_lives") {
        return;
    }
    let sandbox = Sandbox::new();
    let namespace = Namespace::start(&sandbox, "wait");
    let program = namespace.program();
    let inside = support::status_line(program, "NSpid");
    assert_eq!(
        inside.split_whitespace().last(),
        Some("2"),
        "NSpid {inside}"
    );
    assert!(wait_until(EXIT, || fs::read_to_string(
        sandbox.path("app.pid")
    )
    .is_ok_and(|text| text == "2\n")));
    std::thread::sleep(Duration::from_millis(500));
    assert!(alive(namespace.init()) && alive(program));
    // The init holds no fd of the program's: not the pidfile.
    let held = support::fds(namespace.init());
    assert!(
        held.values().all(|target| !target.ends_with("app.pid")),
        "{held:?}"
    );
    kill(Pid::from_raw(namespace.init()), Signal::SIGTERM).unwrap();
    assert_eq!(
        namespace.end().status.code(),
        Some(128 + Signal::SIGTERM as i32)
    );
}

/// `DAEMONIC_INIT=0` turns the init off: as PID 1, the program detaches as
/// anywhere, so the namespace ends with the launcher's exit 0.
#[test]
fn daemonic_init_0_turns_the_init_off() {
    if !can_run("daemonic_init_0_turns_the_init_off") {
        return;
    }
    let sandbox = Sandbox::new();
    let mut command = sandbox.command_for("unshare");
    command
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(support::example("fixture-init"))
        .env("APP_PIDFILE", sandbox.path("app.pid"))
        .env("INIT_DO", "wait")
        .env("DAEMONIC_INIT", "0");
    let ended = Running::spawn(command).wait();
    assert_eq!(ended.status.code(), Some(0), "{ended:?}");
    // The launcher was PID 1: its exit ended the namespace, daemon and all.
    assert!(sandbox.wait_all_gone(EXIT), "{:?}", sandbox.processes());
}

/// Outside a PID namespace the same binary detaches as before.
#[test]
fn outside_a_namespace_the_same_binary_detaches() {
    let sandbox = Sandbox::new();
    let pidfile = sandbox.path("app.pid");
    let launch = sandbox.launch("fixture-init", &[("APP_PIDFILE", support::os(&pidfile))]);
    let daemon = support::daemon_pid(&launch, &pidfile);
    assert_ne!(daemon, launch.pid);
    assert_ne!(
        support::stat(daemon).session,
        support::stat(std::process::id() as i32).session
    );
    kill(Pid::from_raw(daemon), Signal::SIGKILL).unwrap();
    assert!(wait_until(EXIT, || !alive(daemon)));
}

/// `upgrade()` under the init refuses, and says why: in a container the
/// orchestrator rolls out new versions. The program serves on.
#[test]
fn upgrade_under_the_init_is_refused() {
    if !can_run("upgrade_under_the_init_is_refused") {
        return;
    }
    let sandbox = Sandbox::new();
    let mut command = sandbox.command_for("unshare");
    command
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(support::example("fixture-handover"))
        .env("APP_PIDFILE", sandbox.path("app.pid"))
        .env("APP_LOG", sandbox.path("app.log"));
    let namespace = Namespace::spawn(command);
    let program = namespace.program();
    wait_for_sigwait(program);
    kill(Pid::from_raw(program), Signal::SIGUSR2).unwrap();
    // Refused at once: the program is back in its wait, still alone.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(children(namespace.init()), [program]);
    kill(Pid::from_raw(namespace.init()), Signal::SIGTERM).unwrap();
    let ended = namespace.end();
    assert!(
        ended.stdout.contains(
            "upgrade failed: upgrade: this program runs as PID 1 of its container, under its own \
             init; roll out a new version through the orchestrator instead"
        ),
        "{ended:?}"
    );
}

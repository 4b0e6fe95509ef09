//! The fault suite: every system call of the start path failed, one at a
//! time, in one process exactly, by `fixture-inject` (a ptrace helper);
//! then samples of `stop` and of the upgrade, chosen by a printed seed.
//! After each trial the promise is checked from outside:
//!
//! - exit 0 with exactly one working daemon, locked and named by the
//!   pidfile; or exit 1 with one line naming the step, no process of the
//!   start left and no lock held;
//! - and in every case, the next start works.
//!
//! A death before `main` (the loader, the Rust runtime) is counted apart,
//! not judged, but must leave nothing behind either. Each test prints its
//! totals, which `.ci/run` shows.
// ptrace's registers are x86_64's here; the suite reads /proc.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod support;

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use nix::libc;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::{alive, in_sigwait, wait_until, Bystander, Launch, Running, Sandbox, EXIT};

/// What a trial does to its one call.
#[derive(Debug, Clone, Copy)]
enum Fault {
    Errno(i32),
    Kill,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Errno(errno) => write!(f, "{}", nix::errno::Errno::from_raw(*errno)),
            Fault::Kill => f.write_str("SIGKILL"),
        }
    }
}

/// One failed call: the Nth call of `syscall` in the `process`th process.
#[derive(Debug, Clone, Copy)]
struct Trial {
    process: usize,
    syscall: u64,
    occurrence: u64,
    fault: Fault,
}

impl Trial {
    /// `fixture-inject`'s arguments for it: PROCESS SYSCALL N ERRNO|kill.
    fn spec(&self) -> Vec<String> {
        vec![
            self.process.to_string(),
            self.syscall.to_string(),
            self.occurrence.to_string(),
            match self.fault {
                Fault::Errno(errno) => errno.to_string(),
                Fault::Kill => "kill".to_owned(),
            },
        ]
    }
}

impl fmt::Display for Trial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "process {} syscall {} call {}: {}",
            self.process, self.syscall, self.occurrence, self.fault
        )
    }
}

/// Calls that cannot fail (their result is not an error code), or that end
/// the process: failing them tests nothing. And `close`: Linux releases the
/// fd whatever close(2) returns, where a call the injector skips would keep
/// it open, which no kernel does (seed 7 found that: std's spawn then waited
/// on a socket whose other end it still held).
const CANNOT_FAIL: [i64; 10] = [
    libc::SYS_close,
    libc::SYS_getpid,
    libc::SYS_gettid,
    libc::SYS_getppid,
    libc::SYS_umask,
    libc::SYS_exit_group,
    libc::SYS_exit,
    libc::SYS_rt_sigreturn,
    libc::SYS_set_tid_address,
    libc::SYS_execve,
];

/// The error a call could really return: what the kernel documents for it.
fn hard_error(syscall: u64) -> i32 {
    match syscall as i64 {
        libc::SYS_read | libc::SYS_write | libc::SYS_pread64 | libc::SYS_pwrite64 => libc::EIO,
        libc::SYS_ftruncate => libc::EIO,
        libc::SYS_flock => libc::ENOLCK,
        libc::SYS_setsid | libc::SYS_fchmod | libc::SYS_kill => libc::EPERM,
        libc::SYS_chdir | libc::SYS_openat => libc::EACCES,
        libc::SYS_dup2 | libc::SYS_dup3 => libc::EBUSY,
        libc::SYS_wait4 | libc::SYS_waitid => libc::ECHILD,
        libc::SYS_fcntl | libc::SYS_prctl | libc::SYS_close_range => libc::EINVAL,
        _ => libc::ENOMEM,
    }
}

/// Calls that may be interrupted or told to try again: these get EINTR and
/// EAGAIN trials too.
fn retryable(syscall: u64) -> &'static [i32] {
    match syscall as i64 {
        libc::SYS_poll | libc::SYS_ppoll => &[libc::EINTR, libc::EAGAIN],
        libc::SYS_read | libc::SYS_write | libc::SYS_pread64 | libc::SYS_pwrite64 => {
            &[libc::EINTR, libc::EAGAIN]
        }
        libc::SYS_wait4 | libc::SYS_waitid | libc::SYS_flock => &[libc::EINTR],
        libc::SYS_clone | libc::SYS_clone3 => &[libc::EAGAIN],
        _ => &[],
    }
}

/// What the program under `fixture-inject` made: per process and call, how
/// many times. The program exits `status` when nothing is failed.
fn count(command: Command, status: i32) -> BTreeMap<(usize, u64), u64> {
    let launch = Running::spawn(command).wait();
    assert_eq!(
        launch.status.code(),
        Some(status),
        "the dry run: {launch:?}"
    );
    parse_counts(&launch.stderr)
}

/// The lines `fixture-inject: PROCESS SYSCALL COUNT` of a dry run.
fn parse_counts(printed: &str) -> BTreeMap<(usize, u64), u64> {
    printed
        .lines()
        .filter_map(|line| line.strip_prefix("fixture-inject: "))
        .map(|line| {
            let fields: Vec<u64> = line
                .split_whitespace()
                .map(|field| field.parse().expect("a number"))
                .collect();
            ((fields[0] as usize, fields[1]), fields[2])
        })
        .collect()
}

/// Every trial for these counts: a hard error at each call, retryable
/// errors where the call allows them, and SIGKILL at each call.
fn every_trial(counts: &BTreeMap<(usize, u64), u64>) -> Vec<Trial> {
    let mut trials = Vec::new();
    for (&(process, syscall), &calls) in counts {
        for occurrence in 1..=calls {
            let at = |fault| Trial {
                process,
                syscall,
                occurrence,
                fault,
            };
            if !CANNOT_FAIL.contains(&(syscall as i64)) {
                trials.push(at(Fault::Errno(hard_error(syscall))));
                for &errno in retryable(syscall) {
                    trials.push(at(Fault::Errno(errno)));
                }
            }
            trials.push(at(Fault::Kill));
        }
    }
    trials
}

/// A deterministic sample of `trials`, by a linear congruential generator
/// seeded with `seed`.
fn sample(mut trials: Vec<Trial>, seed: u64, size: usize) -> Vec<Trial> {
    let mut state = seed;
    let mut picked = Vec::new();
    while picked.len() < size && !trials.is_empty() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        picked.push(trials.swap_remove((state >> 33) as usize % trials.len()));
    }
    picked
}

/// The seed: `DAEMONIC_FAULT_SEED`, or 1, printed either way. CI runs the
/// same sample each time; another seed explores another one (seed 1 is the
/// one that found the spawn that could not read its exec-error pipe).
fn seed(test: &str) -> u64 {
    let seed = std::env::var("DAEMONIC_FAULT_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(1);
    let _ = writeln!(
        std::io::stderr(),
        "faults {test}: seed {seed} (DAEMONIC_FAULT_SEED={seed} runs the same trials)"
    );
    seed
}

/// Whether `pid` waits for its signals: the fixture's daemon at work.
fn waiting(pid: i32) -> bool {
    wait_until(Duration::from_secs(2), || in_sigwait(pid))
}

/// The processes of the sandbox but the injector.
fn started(sandbox: &Sandbox) -> Vec<i32> {
    sandbox
        .processes()
        .into_iter()
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() != "fixture-inject")
        })
        .collect()
}

/// `fixture-handover` in a sandbox (`control`, `ready = "notify"`, a
/// pidfile, `ready_timeout` 2 s): the program the start and stop trials run.
struct Service {
    sandbox: Sandbox,
    pidfile: PathBuf,
}

impl Service {
    fn new() -> Service {
        let sandbox = Sandbox::new();
        let pidfile = sandbox.path("service.pid");
        Service { sandbox, pidfile }
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut command = self.sandbox.command(program);
        command
            .args(args)
            .env("APP_PIDFILE", &self.pidfile)
            .env("APP_LOG", self.sandbox.path("service.log"))
            .env("APP_READY_TIMEOUT", "2");
        command
    }

    /// `service COMMAND` under the injector.
    fn injected(&self, trial: Option<&Trial>, command: &str) -> Command {
        let spec = trial.map_or_else(|| vec!["count".to_owned()], Trial::spec);
        let service = support::example("fixture-handover");
        let mut args: Vec<&str> = spec.iter().map(String::as_str).collect();
        args.push("--");
        args.push(service.to_str().expect("a UTF-8 path"));
        args.push(command);
        self.command("fixture-inject", &args)
    }

    fn run(&self, command: &str) -> Launch {
        Running::spawn(self.command("fixture-handover", &[command])).wait()
    }

    /// The daemon that `status` names, if it says one runs.
    fn running(&self) -> Option<i32> {
        let status = self.run("status");
        (status.status.code() == Some(0)).then(|| {
            status
                .stdout
                .trim()
                .strip_prefix("running (pid ")
                .and_then(|rest| rest.strip_suffix(')'))
                .and_then(|pid| pid.parse().ok())
                .unwrap_or_else(|| panic!("status: {status:?}"))
        })
    }

    /// Stops whatever runs, by `stop`, and then by pid; whether all is gone.
    fn clean(&self) -> bool {
        let _ = self.run("stop");
        for pid in started(&self.sandbox) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        wait_until(EXIT, || started(&self.sandbox).is_empty())
    }

    /// The promise after a start trial, or why it does not hold.
    fn judge_start(&self, trial: &Trial, launch: &Launch) -> Result<Verdict, String> {
        let said = format!(
            "exit {:?}, stderr {:?}",
            launch.status.code(),
            launch.stderr
        );
        let verdict = match launch.status.code() {
            Some(0) => {
                let running = self.running();
                let processes = started(&self.sandbox);
                match (running, &processes[..]) {
                    (Some(pid), [only]) if pid == *only && waiting(pid) => Verdict::Started,
                    // The launcher exits 0 on the daemon's Ready alone: a
                    // daemon that ends since failed in its own code, after
                    // it (a sigwait failed, say), which is not the
                    // launcher's word.
                    _ if trial.process == 2
                        && wait_until(EXIT, || started(&self.sandbox).is_empty()) =>
                    {
                        Verdict::DiedAfterReady
                    }
                    _ => {
                        return Err(format!(
                            "{said}: exit 0, but status names {running:?} and {processes:?} run"
                        ))
                    }
                }
            }
            Some(1) => {
                let one_line = launch.stderr.starts_with("daemonic: ")
                    && launch.stderr.ends_with('\n')
                    && launch.stderr.lines().count() == 1;
                if !one_line {
                    return Err(format!("{said}: not one line"));
                }
                if !wait_until(EXIT, || started(&self.sandbox).is_empty()) {
                    return Err(format!("{said}: left {:?}", started(&self.sandbox)));
                }
                Verdict::Failed
            }
            // The launcher killed, or dead before main: what it left must be
            // nothing, or one working daemon.
            _ => {
                let quiet = wait_until(Duration::from_millis(300), || {
                    started(&self.sandbox).is_empty()
                });
                if !quiet {
                    let running = self.running();
                    let processes = started(&self.sandbox);
                    // A survivor must be one working daemon, named by the
                    // pidfile and waiting for its signals.
                    let working = matches!(
                        (running, &processes[..]),
                        (Some(pid), [only]) if pid == *only && waiting(pid)
                    );
                    if !working {
                        return Err(format!(
                            "{said}: left {processes:?}, and status names {running:?}"
                        ));
                    }
                }
                if trial.process == 0 && matches!(trial.fault, Fault::Kill) {
                    Verdict::LauncherKilled
                } else {
                    Verdict::DiedBeforeMain
                }
            }
        };
        // Whatever happened, the next start works: it starts, or finds the
        // working daemon that survived.
        let next = self.run("start");
        if next.status.code() != Some(0) {
            return Err(format!("{said}; then the next start: {next:?}"));
        }
        if !self.clean() {
            return Err(format!(
                "{said}; then the clean-up left {:?}",
                started(&self.sandbox)
            ));
        }
        Ok(verdict)
    }
}

/// How a trial ended, when the promise held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    Started,
    Failed,
    DiedAfterReady,
    LauncherKilled,
    DiedBeforeMain,
}

/// Runs `trials`, judging each; the totals, and every broken promise.
fn sweep(
    name: &str,
    trials: &[Trial],
    mut run: impl FnMut(&Trial) -> Result<Verdict, String>,
    clean: impl Fn() -> bool,
) {
    let mut totals: BTreeMap<Verdict, usize> = BTreeMap::new();
    let mut broken = Vec::new();
    for trial in trials {
        // A hang or a held pipe panics in the helpers: that trial broke the
        // promise, and the sweep goes on to say which others did.
        let judged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(trial)));
        match judged {
            Ok(Ok(verdict)) => *totals.entry(verdict).or_default() += 1,
            Ok(Err(why)) => broken.push(format!("{trial}: {why}")),
            Err(panic) => {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                broken.push(format!("{trial}: {why}"));
            }
        }
        // Whatever the trial left, the next one starts from nothing.
        if !clean() {
            broken.push(format!("{trial}: its processes could not be ended"));
            break;
        }
    }
    // Straight to stderr, past the test harness's capture: `.ci/run`
    // shows these lines.
    let _ = writeln!(
        std::io::stderr(),
        "faults {name}: {} trials, {} broke the promise; {totals:?}",
        trials.len(),
        broken.len()
    );
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// Every call of the start path (the launcher, the intermediate process and
/// the daemon up to the launcher's exit), each failed with a hard error, with
/// EINTR and EAGAIN where the call allows them, and with SIGKILL.
#[test]
fn every_call_of_the_start_path_failed_once_keeps_the_promise() {
    let service = Service::new();
    let counts = count(service.injected(None, "start"), 0);
    assert!(service.clean());
    let trials = every_trial(&counts);
    assert!(
        counts.keys().any(|&(process, _)| process == 2),
        "the dry run saw no daemon: {counts:?}"
    );
    sweep(
        "start",
        &trials,
        |trial| {
            let launch = Running::spawn(service.injected(Some(trial), "start")).wait();
            service.judge_start(trial, &launch)
        },
        || service.clean(),
    );
}

/// `stop` of a running daemon, with one call of the `stop` process failed
/// or killed (a sample of every such trial, by the printed seed): the
/// daemon is gone, or it runs on and `status` names it; a bystander gets no
/// signal; the next start works.
#[test]
fn stop_with_one_call_failed_keeps_the_promise() {
    let service = Service::new();
    let bystander: Bystander = service.sandbox.bystander("bystander");
    let start = service.run("start");
    assert_eq!(start.status.code(), Some(0), "{start:?}");
    let counts = count(service.injected(None, "stop"), 0);
    let trials = sample(every_trial(&counts), seed("stop"), 60);
    sweep(
        "stop",
        &trials,
        |trial| {
            let start = service.run("start");
            if start.status.code() != Some(0) {
                return Err(format!("the start before it: {start:?}"));
            }
            let daemon = service.running().ok_or("no daemon before the stop")?;
            let stop = Running::spawn(service.injected(Some(trial), "stop")).wait();
            let said = format!(
                "exit {:?}, {:?} {:?}",
                stop.status.code(),
                stop.stdout,
                stop.stderr
            );
            // The daemon is gone, or runs on, named by status; never half.
            // SIGTERM ends it within milliseconds, once `stop` has sent it;
            // one that status no longer names is ending, and is waited for.
            let gone = wait_until(Duration::from_millis(300), || !alive(daemon))
                || (service.running() != Some(daemon) && wait_until(EXIT, || !alive(daemon)));
            let verdict = if gone {
                if !wait_until(EXIT, || {
                    started(&service.sandbox)
                        .iter()
                        .all(|&pid| pid == bystander.pid)
                }) {
                    return Err(format!("{said}: left {:?}", started(&service.sandbox)));
                }
                Verdict::Failed
            } else {
                if service.running() != Some(daemon) {
                    return Err(format!(
                        "{said}: {daemon} runs, and status does not name it"
                    ));
                }
                if stop.status.code() == Some(0) && stop.stdout.starts_with("stopped") {
                    return Err(format!("{said}: it said stopped, and {daemon} runs"));
                }
                Verdict::Started
            };
            bystander.assert_untouched();
            let _ = service.run("stop");
            Ok(verdict)
        },
        || {
            let _ = service.run("stop");
            wait_until(EXIT, || started(&service.sandbox) == [bystander.pid])
        },
    );
    assert!(service.clean() || started(&service.sandbox) == [bystander.pid]);
}

/// The daemon of `fixture-handover` in the foreground under the injector,
/// then SIGUSR2: one call of the old process (0) or of the new one (1) is
/// failed or killed (a sample, by the printed seed). Once the upgrade has
/// settled, exactly one process holds the lock and the file names it (or
/// none runs), and a stop and the next start work.
#[test]
fn an_upgrade_with_one_call_failed_leaves_one_daemon() {
    let sandbox = Sandbox::new();
    let app = sandbox.copy_binary("fixture-handover", "app");
    let pidfile = sandbox.path("app.pid");
    let command = |args: &[&str], injected: Option<&[String]>| {
        let mut command = match injected {
            Some(spec) => {
                let mut command = sandbox.command("fixture-inject");
                command.args(spec).arg("--").arg(&app);
                command
            }
            None => sandbox.command_for(&app),
        };
        command
            .args(args)
            .env("APP_PIDFILE", &pidfile)
            .env("APP_LOG", sandbox.path("app.log"))
            .env("APP_READY_TIMEOUT", "2");
        if injected.is_some() {
            command.env("DAEMONIC_FOREGROUND", "1");
        }
        command
    };
    let run = |args: &[&str]| Running::spawn(command(args, None)).wait();
    let running = || {
        let status = run(&["status"]);
        (status.status.code() == Some(0))
            .then(|| {
                status
                    .stdout
                    .trim()
                    .strip_prefix("running (pid ")
                    .and_then(|rest| rest.strip_suffix(')'))
                    .and_then(|pid| pid.parse::<i32>().ok())
            })
            .flatten()
    };
    // The upgrade of a foreground daemon started under the injector, until
    // it settles; what the injector printed, and whether it settled on one
    // daemon (or none).
    let upgrade = |spec: &[String]| -> (String, Result<Verdict, String>) {
        let _ = fs::remove_file(&pidfile);
        let foreground = Running::spawn(command(&[], Some(spec)));
        let mut old = None;
        // Started, and waiting for its signals.
        let serving = wait_until(Duration::from_secs(3), || {
            old = fs::read_to_string(&pidfile)
                .ok()
                .and_then(|text| text.lines().next()?.parse::<i32>().ok());
            old.is_some_and(in_sigwait)
        });
        let verdict = match old.filter(|_| serving) {
            // A fault before the start was done: nothing to upgrade.
            None => Ok(Verdict::Failed),
            Some(old) => {
                let _ = kill(Pid::from_raw(old), Signal::SIGUSR2);
                // Handed over (the old one exits), refused, or killed.
                let _ = wait_until(Duration::from_secs(5), || !alive(old));
                // Up to the new process's wait for its ack, `ready_timeout`
                // and the commit's grace (12 s here), when the old process
                // is stuck and never answers it.
                let settled = wait_until(Duration::from_secs(15), || {
                    let processes = started(&sandbox);
                    processes.is_empty() || running().is_some_and(|pid| processes == [pid])
                });
                // And that one is at work, not stuck in its hand-over.
                let working = started(&sandbox).first().is_none_or(|&pid| waiting(pid));
                let processes = started(&sandbox);
                if processes.is_empty() {
                    Ok(Verdict::Failed)
                } else if settled && working {
                    Ok(Verdict::Started)
                } else {
                    Err(format!(
                        "{processes:?} run, and status names {:?}",
                        running()
                    ))
                }
            }
        };
        let _ = run(&["stop"]);
        for pid in started(&sandbox) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let injector = foreground.wait();
        (injector.stderr, verdict)
    };
    let (printed, _) = upgrade(&["count".to_owned()]);
    let counts = parse_counts(&printed);
    assert!(
        counts.keys().any(|&(process, _)| process == 1),
        "the dry run saw no new process: {counts:?}"
    );
    let mut trials = sample(every_trial(&counts), seed("upgrade"), 24);
    // And, every time, the trials that found defects: the old process's
    // spawn unable to read its exec-error pipe (std then waits for the new
    // process, which ran on as a second daemon); and its commit cut short
    // between the pwrite and the ftruncate (the new process took the file
    // for its own, and removed it at its exit).
    trials.extend([
        Trial {
            process: 0,
            syscall: libc::SYS_recvfrom as u64,
            occurrence: 1,
            fault: Fault::Errno(libc::ENOMEM),
        },
        Trial {
            process: 0,
            syscall: libc::SYS_ftruncate as u64,
            occurrence: 3,
            fault: Fault::Errno(libc::EIO),
        },
    ]);
    sweep(
        "upgrade",
        &trials,
        |trial| {
            let spec = trial.spec();
            let (_, verdict) = upgrade(&spec);
            let verdict = verdict?;
            if !wait_until(EXIT, || started(&sandbox).is_empty()) {
                return Err(format!("the clean-up left {:?}", started(&sandbox)));
            }
            let next = run(&[]);
            if next.status.code() != Some(0) {
                return Err(format!("the next start: {next:?}"));
            }
            let _ = run(&["stop"]);
            if !wait_until(EXIT, || started(&sandbox).is_empty()) {
                return Err(format!(
                    "the stop after the next start left {:?}",
                    started(&sandbox)
                ));
            }
            Ok(verdict)
        },
        || {
            let _ = run(&["stop"]);
            for pid in started(&sandbox) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            wait_until(EXIT, || started(&sandbox).is_empty())
        },
    );
}

/// `status` with each of its reads of the pidfile interrupted (EINTR): the
/// read is made again, and the answer is the same, `running (pid N)`, exit
/// 0; never an error about a file that was only interrupted.
#[test]
fn status_with_a_read_interrupted_gives_the_same_answer() {
    let service = Service::new();
    let start = service.run("start");
    assert_eq!(start.status.code(), Some(0), "{start:?}");
    let daemon = service.running().expect("the daemon");
    let counts = count(service.injected(None, "status"), 0);
    let reads = counts
        .get(&(0, libc::SYS_pread64 as u64))
        .copied()
        .unwrap_or(0);
    assert!(reads > 0, "status read nothing with pread: {counts:?}");
    for occurrence in 1..=reads {
        let trial = Trial {
            process: 0,
            syscall: libc::SYS_pread64 as u64,
            occurrence,
            fault: Fault::Errno(libc::EINTR),
        };
        let status = Running::spawn(service.injected(Some(&trial), "status")).wait();
        // The loader's own reads, before main: not the pidfile's.
        if status
            .stderr
            .contains("error while loading shared libraries")
        {
            continue;
        }
        assert_eq!(status.status.code(), Some(0), "{trial}: {status:?}");
        assert_eq!(
            status.stdout,
            format!("running (pid {daemon})\n"),
            "{trial}"
        );
    }
    assert!(service.clean());
}

/// The program as PID 1 of a namespace, its own init: every call of the
/// init's loop (`unshare`'s child, process 1: its fork, waits, reaps and
/// forwards) failed or killed once, and a sample of the program's
/// (process 2), while the
/// program exits 3. The namespace always ends, within the test's limit,
/// with nothing of it left; when the program ran and only the init's call
/// failed, its 3 comes out as it is.
#[test]
fn pid_1_with_one_call_failed_ends_the_namespace_with_the_programs_status() {
    let test = "pid_1_with_one_call_failed_ends_the_namespace_with_the_programs_status";
    if !support::is_root(test) {
        return;
    }
    let sandbox = Sandbox::new();
    let command = |spec: &[String]| {
        let mut command = sandbox.command("fixture-inject");
        command
            .args(spec)
            .args(["--", "unshare", "--pid", "--fork", "--mount-proc"])
            .arg(support::example("fixture-init"))
            .env("APP_PIDFILE", sandbox.path("app.pid"))
            .env("INIT_DO", "exit:3");
        command
    };
    let counts = count(command(&["count".to_owned()]), 3);
    assert!(
        counts.keys().any(|&(process, _)| process == 2),
        "the dry run saw no program under the init: {counts:?}"
    );
    let all = every_trial(&counts);
    // The init's own loop: its waits, reaps and forwards, at every call.
    // Not the loader's calls before its main, nor `unshare`'s before its
    // exec: a namespace's PID 1 traced by ptrace cannot die of a signal
    // that the tracer delivers again, so a crash there hangs, which it
    // would not do untraced.
    let init_calls = [
        libc::SYS_wait4,
        libc::SYS_rt_sigtimedwait,
        libc::SYS_kill,
        libc::SYS_clone,
        libc::SYS_clone3,
    ];
    let mut trials: Vec<Trial> = all
        .iter()
        .filter(|t| t.process == 1 && init_calls.contains(&(t.syscall as i64)))
        .copied()
        .collect();
    let program: Vec<Trial> = all.into_iter().filter(|t| t.process == 2).collect();
    trials.extend(sample(program, seed("pid 1"), 40));
    sweep(
        "pid 1",
        &trials,
        |trial| {
            let _ = fs::remove_file(sandbox.path("app.pid"));
            let ended = Running::spawn(command(&trial.spec())).wait();
            let code = ended.status.code();
            if !wait_until(EXIT, || started(&sandbox).is_empty()) {
                return Err(format!("{code:?}: left {:?}", started(&sandbox)));
            }
            let ran = ended.stdout.contains("running, pid");
            let init_error = trial.process == 1 && matches!(trial.fault, Fault::Errno(_));
            if ran && init_error && code != Some(3) {
                return Err(format!(
                    "the program ran and exited 3, the namespace {code:?}: {:?}",
                    ended.stderr
                ));
            }
            Ok(match code {
                Some(3) => Verdict::Started,
                Some(1) if ended.stderr.starts_with("daemonic: ") => Verdict::Failed,
                _ if matches!(trial.fault, Fault::Kill) => Verdict::LauncherKilled,
                _ => Verdict::DiedBeforeMain,
            })
        },
        || wait_until(EXIT, || started(&sandbox).is_empty()),
    );
}

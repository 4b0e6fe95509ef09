//! The program as PID 1 of a PID namespace, its own init against tini:
//! the time from exec to `main` (a run that returns at once, whole), and the
//! `docker stop` latency (SIGTERM to PID 1 until the namespace is gone, for
//! a program without handlers). Run it with `cargo bench --bench init`, as
//! root (`unshare --pid --fork --mount-proc` makes the namespaces); tini
//! comes from Debian's `tini` package, and its rows are left out without it.
//!
//! The benchmark is its own program: with `INIT_ARG` it starts through
//! `Daemon::start` (so, as PID 1, under its own init); with `PLAIN_ARG` it
//! does not touch daemonic (the program tini runs, and the floor).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const INIT_ARG: &str = "--daemonic-bench-init";
const PLAIN_ARG: &str = "--daemonic-bench-plain";
const ROUNDS: usize = 30;

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    /// daemonic's own init.
    Daemonic,
    /// `tini -- program`.
    Tini,
    /// The program alone as PID 1: the floor of a run that returns; a stop
    /// it would ignore.
    Alone,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Daemonic => "daemonic's own init",
            Variant::Tini => "tini -- program",
            Variant::Alone => "the program alone as PID 1 (floor)",
        }
    }

    fn command(self, exe: &str, then: &str) -> Command {
        let mut command = Command::new("unshare");
        command
            .args(["--pid", "--fork", "--mount-proc"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        match self {
            Variant::Daemonic => command.args([exe, INIT_ARG, then]),
            Variant::Tini => command.args(["tini", "--", exe, PLAIN_ARG, then]),
            Variant::Alone => command.args([exe, PLAIN_ARG, then]),
        };
        command
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some(INIT_ARG) => {
            // SAFETY: the first thing this run does; nothing owns an fd.
            let _detached = unsafe { daemonic::Daemon::new().enable(false).start() }
                .unwrap_or_else(|e| panic!("start: {e}"));
            return program(&args[2]);
        }
        Some(PLAIN_ARG) => return program(&args[2]),
        _ => {}
    }
    if !nix::unistd::geteuid().is_root() {
        println!("the init benchmark needs root, for unshare --pid: skipped");
        return;
    }
    let exe = std::env::current_exe().expect("this binary");
    let exe = exe.to_str().expect("a UTF-8 path");
    let tini = Command::new("tini")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    let mut variants = vec![Variant::Daemonic, Variant::Alone];
    if tini {
        variants.insert(1, Variant::Tini);
    } else {
        println!("tini is missing (Debian's tini package): its rows are left out");
    }
    // Exec to main: a whole run that returns at once, in rotating order.
    let mut runs: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    let mut stops: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for round in 0..ROUNDS {
        for offset in 0..variants.len() {
            let i = (round + offset) % variants.len();
            let variant = variants[i];
            let started = Instant::now();
            let status = variant.command(exe, "exit").status().expect("unshare");
            runs[i].push(started.elapsed().as_secs_f64() * 1e3);
            assert!(status.success(), "{}: {status}", variant.name());
            if variant != Variant::Alone {
                stops[i].push(stop_latency(variant, exe));
            }
        }
    }
    println!(
        "| as PID 1 | run to exit, p50 (ms) | max | SIGTERM to namespace gone, p50 (ms) | max |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (i, variant) in variants.iter().enumerate() {
        let (stop_p50, stop_max) = if stops[i].is_empty() {
            (
                "ignored: PID 1 has no default action".to_owned(),
                "-".to_owned(),
            )
        } else {
            (
                format!("{:.2}", median(&stops[i])),
                format!("{:.2}", max(&stops[i])),
            )
        };
        println!(
            "| {} | {:.2} | {:.2} | {stop_p50} | {stop_max} |",
            variant.name(),
            median(&runs[i]),
            max(&runs[i]),
        );
    }
    if tini {
        let target = |what: &str, ours: f64, theirs: f64| {
            if ours <= theirs {
                println!("target: {what} at or below tini's: {ours:.2} vs {theirs:.2} ms: met");
            } else {
                println!(
                    "target: {what} at or below tini's: {ours:.2} vs {theirs:.2} ms: missed by {:.2} ms",
                    ours - theirs
                );
            }
        };
        target("run to exit (p50)", median(&runs[0]), median(&runs[1]));
        target("stop latency (p50)", median(&stops[0]), median(&stops[1]));
    }
}

/// What the program does as PID 1's child: return at once, or wait for a
/// signal with no handler, whose default action ends it.
fn program(then: &str) {
    if then == "wait" {
        loop {
            // SAFETY: pause has no preconditions.
            unsafe { nix::libc::pause() };
        }
    }
}

/// Starts `variant` with a program that waits, then times SIGTERM to PID 1
/// until `unshare` (and with it the namespace) is gone.
fn stop_latency(variant: Variant, exe: &str) -> f64 {
    let mut unshare = variant.command(exe, "wait").spawn().expect("unshare");
    let unshare_pid = unshare.id() as i32;
    let children = |pid: i32| -> Vec<i32> {
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|child| child.parse().ok())
            .collect()
    };
    // PID 1, and the program under it, waiting in pause(2).
    let deadline = Instant::now() + Duration::from_secs(10);
    let init = loop {
        let init = children(unshare_pid).first().copied();
        let paused = init
            .and_then(|init| children(init).first().copied())
            .is_some_and(|program| {
                std::fs::read_to_string(format!("/proc/{program}/wchan"))
                    .is_ok_and(|wchan| wchan.contains("pause"))
            });
        if paused {
            break init.expect("PID 1");
        }
        assert!(
            Instant::now() < deadline,
            "{}: never paused",
            variant.name()
        );
        std::thread::sleep(Duration::from_millis(1));
    };
    let started = Instant::now();
    kill(Pid::from_raw(init), Signal::SIGTERM).expect("SIGTERM to PID 1");
    unshare.wait().expect("wait for unshare");
    started.elapsed().as_secs_f64() * 1e3
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::MIN, f64::max)
}

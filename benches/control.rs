//! Stop-and-wait latency: from invoking a stop until it returns, for a
//! daemon that exits at once on SIGTERM. Run it with `cargo bench --bench control`.
//!
//! The benchmark is also its own daemon and its own `app stop`: run with
//! `DAEMON_ARG` it detaches and waits for SIGTERM; with `STOP_ARG` it stops
//! the daemon as `control = "stop"` does.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, SigSet, Signal};
use nix::unistd::Pid;

const DAEMON_ARG: &str = "--daemonic-bench-daemon";
const STOP_ARG: &str = "--daemonic-bench-stop";
const ROUNDS: usize = 20;

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    AppStop,
    StartStopDaemon,
    KillPoll,
    Floor,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::AppStop => "app stop (daemonic)",
            Variant::StartStopDaemon => "start-stop-daemon --stop --retry TERM/5",
            Variant::KillPoll => "kill, then kill(pid, 0) every 100 ms (libdaemon)",
            Variant::Floor => "kill, then a busy wait for the pidfile to go (floor)",
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some(DAEMON_ARG) => return daemon(Path::new(&args[2])),
        Some(STOP_ARG) => return stop(Path::new(&args[2])),
        _ => {}
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let pidfile = dir.path().join("bench.pid");
    let ssd = Command::new("start-stop-daemon")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let mut variants = vec![Variant::AppStop, Variant::KillPoll, Variant::Floor];
    if ssd {
        variants.insert(1, Variant::StartStopDaemon);
    } else {
        println!("start-stop-daemon is missing (Debian's dpkg has it): its row is left out");
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for round in 0..ROUNDS {
        for offset in 0..variants.len() {
            // The order rotates every round, so no variant always goes first.
            let index = (round + offset) % variants.len();
            let pid = start(&pidfile);
            times[index].push(time_stop(variants[index], pid, &pidfile));
        }
    }
    println!("{ROUNDS} stops per variant, interleaved; times in milliseconds, from invoking the stop until it returns\n");
    println!("| variant | p50 | p90 | max |");
    println!("|---|---:|---:|---:|");
    let mut medians = Vec::new();
    for (variant, times) in variants.iter().zip(&mut times) {
        times.sort_by(f64::total_cmp);
        let p50 = times[times.len() / 2];
        let p90 = times[(times.len() * 9) / 10];
        let max = times[times.len() - 1];
        medians.push((*variant, p50));
        println!("| {} | {p50:.2} | {p90:.2} | {max:.2} |", variant.name());
    }
    let median = |v: Variant| medians.iter().find(|(m, _)| *m == v).map(|(_, t)| *t);
    let app = median(Variant::AppStop).unwrap();
    let floor = median(Variant::Floor).unwrap();
    println!();
    let over = app - floor;
    println!(
        "target: app stop within 5 ms of the floor at the median: {over:+.2} ms: {}",
        if over <= 5.0 { "met" } else { "missed" }
    );
    if let Some(ssd) = median(Variant::StartStopDaemon) {
        let ratio = ssd / app;
        println!(
            "target: app stop at least 100 times faster than start-stop-daemon: {ratio:.0}x: {}",
            if ratio >= 100.0 { "met" } else { "missed" }
        );
    }
}

/// Starts the daemon, ready once SIGTERM would stop it cleanly; its pid.
fn start(pidfile: &Path) -> i32 {
    let status = Command::new(std::env::current_exe().unwrap())
        .args([DAEMON_ARG, pidfile.to_str().unwrap()])
        .status()
        .expect("start the daemon");
    assert!(status.success(), "the daemon did not start: {status}");
    std::fs::read_to_string(pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn time_stop(variant: Variant, pid: i32, pidfile: &Path) -> f64 {
    let started = Instant::now();
    match variant {
        Variant::AppStop => {
            let status = Command::new(std::env::current_exe().unwrap())
                .args([STOP_ARG, pidfile.to_str().unwrap()])
                .status()
                .unwrap();
            assert!(status.success());
        }
        Variant::StartStopDaemon => {
            let status = Command::new("start-stop-daemon")
                .args(["--stop", "--quiet", "--retry", "TERM/5", "--pidfile"])
                .arg(pidfile)
                .status()
                .unwrap();
            assert!(status.success());
        }
        Variant::KillPoll => {
            kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
            while kill(Pid::from_raw(pid), None).is_ok() && !is_zombie(pid) {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Variant::Floor => {
            kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
            while pidfile.exists() {
                std::hint::spin_loop();
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    // The next round starts from nothing: the process gone, the file too.
    while kill(Pid::from_raw(pid), None).is_ok() && !is_zombie(pid) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = std::fs::remove_file(pidfile);
    elapsed
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| stat[stat.rfind(')').unwrap_or(0)..].starts_with(") Z"))
        .unwrap_or(true)
}

/// The daemon: detached, ready once SIGTERM is blocked for sigwait, gone
/// (its pidfile removed) as soon as SIGTERM arrives.
fn daemon(pidfile: &Path) {
    let daemon = daemonic::Daemon::new()
        .pidfile(pidfile)
        .readiness(daemonic::Readiness::Notify);
    // SAFETY: the first thing this process does; nothing owns an fd yet.
    let _running = unsafe { daemon.start() }.expect("detach");
    let mut term = SigSet::empty();
    term.add(Signal::SIGTERM);
    term.thread_block().unwrap();
    daemonic::ready();
    term.wait().unwrap();
}

/// `app stop`, as the attribute's `control = "stop"` runs it.
fn stop(pidfile: &Path) {
    let stopped = daemonic::Daemon::new()
        .pidfile(pidfile)
        .stop()
        .expect("stop");
    assert!(
        matches!(stopped, daemonic::Stopped::Terminated { .. }),
        "{stopped}"
    );
}

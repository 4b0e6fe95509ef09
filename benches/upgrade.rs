//! The zero-downtime upgrade, timed: from the upgrade signal until the new
//! process is ready (its pid in the pidfile) and until the old one has
//! exited; and a client's worst latency while it happens, against the same
//! client with no upgrade. Run it with `cargo bench --bench upgrade`.
//!
//! The benchmark is also its own server: run with `SERVER_ARG` it detaches,
//! serves on the socket handed to it or one it binds, and on SIGUSR2
//! upgrades to its own binary, then stops accepting and exits.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, SigSet, Signal};
use nix::unistd::Pid;

const SERVER_ARG: &str = "--daemonic-bench-server";
const ROUNDS: usize = 15;
const WINDOW: Duration = Duration::from_millis(300);

static UPGRADED: AtomicBool = AtomicBool::new(false);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(SERVER_ARG) {
        return server(Path::new(&args[2]));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let pidfile = dir.path().join("bench.pid");
    let (mut to_ready, mut to_exit, mut worst_with, mut worst_without) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut failed = 0;
    let mut answered = 0;
    for _ in 0..ROUNDS {
        let (old, addr) = start(&pidfile);
        let client = Client::start(addr);
        std::thread::sleep(WINDOW);
        let before = client.worst_since(Instant::now() - WINDOW);
        let signalled = Instant::now();
        kill(Pid::from_raw(old), Signal::SIGUSR2).unwrap();
        let new = loop {
            if let Some(pid) = read_pid(&pidfile).filter(|&pid| pid != old) {
                break pid;
            }
            assert!(signalled.elapsed() < Duration::from_secs(10), "no upgrade");
            std::hint::spin_loop();
        };
        to_ready.push(ms(signalled.elapsed()));
        while kill(Pid::from_raw(old), None).is_ok() && !is_zombie(old) {
            std::thread::sleep(Duration::from_micros(100));
        }
        to_exit.push(ms(signalled.elapsed()));
        std::thread::sleep(WINDOW);
        let (during, answers, failures) = client.stop(signalled);
        worst_with.push(during);
        worst_without.push(before);
        failed += failures;
        answered += answers;
        kill(Pid::from_raw(new), Signal::SIGKILL).unwrap();
        while kill(Pid::from_raw(new), None).is_ok() && !is_zombie(new) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = std::fs::remove_file(&pidfile);
    }
    println!("{ROUNDS} upgrades; times in milliseconds; a client connects and reads in a loop on loopback\n");
    println!("| measure | p50 | max |");
    println!("|---|---:|---:|");
    for (name, values) in [
        (
            "signal to new process ready (its pid in the pidfile)",
            &mut to_ready,
        ),
        ("signal to old process exited", &mut to_exit),
        ("client's worst latency, no upgrade", &mut worst_without),
        (
            "client's worst latency, during the upgrade",
            &mut worst_with,
        ),
    ] {
        values.sort_by(f64::total_cmp);
        println!(
            "| {name} | {:.2} | {:.2} |",
            values[values.len() / 2],
            values[values.len() - 1]
        );
    }
    println!("\nrequests: {answered} answered, {failed} failed");
    println!(
        "target: 0 failed requests: {}",
        if failed == 0 { "met" } else { "missed" }
    );
    let worst = worst_with.last().copied().unwrap_or_default();
    let bound = to_ready[to_ready.len() / 2] + 5.0;
    println!(
        "target: worst latency during the upgrade <= the new process's start-to-ready (p50) + 5 ms: {worst:.2} vs {bound:.2} ms: {}",
        if worst <= bound { "met" } else { "missed" }
    );
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// A client that connects and reads the answer in a loop, timing each.
struct Client {
    stop: Arc<AtomicBool>,
    /// (start, latency in ms, answered)
    samples: Arc<Mutex<Vec<(Instant, f64, bool)>>>,
    thread: std::thread::JoinHandle<()>,
}

impl Client {
    fn start(addr: String) -> Client {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (flag, log) = (Arc::clone(&stop), Arc::clone(&samples));
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                let started = Instant::now();
                let answered = TcpStream::connect(&addr)
                    .and_then(|mut stream| {
                        let mut answer = String::new();
                        stream.read_to_string(&mut answer)?;
                        Ok(!answer.is_empty())
                    })
                    .unwrap_or(false);
                log.lock()
                    .unwrap()
                    .push((started, ms(started.elapsed()), answered));
            }
        });
        Client {
            stop,
            samples,
            thread,
        }
    }

    fn worst_since(&self, since: Instant) -> f64 {
        let samples = self.samples.lock().unwrap();
        samples
            .iter()
            .filter(|(at, _, _)| *at >= since)
            .map(|(_, latency, _)| *latency)
            .fold(0.0, f64::max)
    }

    /// The worst latency from `since` on, the answers and the failures.
    fn stop(self, since: Instant) -> (f64, usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        let samples = self.samples.lock().unwrap();
        let worst = samples
            .iter()
            .filter(|(at, _, _)| *at + Duration::from_millis(50) >= since)
            .map(|(_, latency, _)| *latency)
            .fold(0.0, f64::max);
        let answered = samples.iter().filter(|(_, _, ok)| *ok).count();
        (worst, answered, samples.len() - answered)
    }
}

/// Starts the server detached; its pid and address.
fn start(pidfile: &Path) -> (i32, String) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([SERVER_ARG, pidfile.to_str().unwrap()])
        .output()
        .expect("start the server");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let addr = stdout
        .trim()
        .strip_prefix("addr: ")
        .expect("addr")
        .to_owned();
    (read_pid(pidfile).expect("pid"), addr)
}

fn read_pid(pidfile: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(pidfile).ok()?;
    text.strip_suffix('\n')?.parse().ok()
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| stat[stat.rfind(')').unwrap_or(0)..].starts_with(") Z"))
        .unwrap_or(true)
}

/// The server: answers each connection with its pid; on SIGUSR2, upgrades
/// to its own binary, and once that is ready, stops accepting and exits.
fn server(pidfile: &Path) {
    let daemon = daemonic::Daemon::new()
        .pidfile(pidfile)
        .readiness(daemonic::Readiness::Notify)
        .ready_timeout(Duration::from_secs(30));
    // SAFETY: the first thing this process does; nothing owns an fd yet.
    let _running = unsafe { daemon.start() }.expect("detach");
    // Blocked after the detach, which clears the mask, and before any
    // thread, for the one that waits for it.
    let mut usr2 = SigSet::empty();
    usr2.add(Signal::SIGUSR2);
    usr2.thread_block().unwrap();
    let listener = match daemonic::listeners().into_iter().next() {
        Some((_, fd)) => TcpListener::from(fd),
        None => TcpListener::bind("127.0.0.1:0").unwrap(),
    };
    daemonic::status(format!("addr: {}", listener.local_addr().unwrap()));
    let fd = listener.as_raw_fd();
    std::thread::spawn(move || {
        usr2.wait().unwrap();
        // SAFETY: the listener outlives this thread's use: main exits only
        // after UPGRADED is set, when this call has returned.
        let socket = unsafe { BorrowedFd::borrow_raw(fd) };
        if daemonic::upgrade(&[("bench", socket)]).is_ok() {
            UPGRADED.store(true, Ordering::SeqCst);
        }
    });
    listener.set_nonblocking(true).unwrap();
    daemonic::ready();
    let answer = format!("{}\n", std::process::id());
    while !UPGRADED.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((mut stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.write_all(answer.as_bytes());
            }
            // Idle: a short nap, which bounds how late the end is seen.
            Err(_) => std::thread::sleep(Duration::from_micros(200)),
        }
    }
}

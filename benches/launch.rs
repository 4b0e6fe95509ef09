//! Launch benchmark: what detaching adds to a service's start-up, measured on
//! real processes. Run it with `cargo bench --bench launch`.
//!
//! The benchmark is also its own target: run with `TARGET_ARG` first, it
//! becomes the program being launched, so every variant is the same binary.
//! Each launch passes a FIFO; the program writes one byte to it once it is
//! ready (detached, for the daemonizing variants). Two times are taken from
//! the spawn: until that byte (launch to ready) and until the launcher exits,
//! both seen through `poll`, on the FIFO and on a pidfd.

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::libc;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::{fork, pipe, ForkResult, Pid};

const TARGET_ARG: &str = "--daemonic-bench-target";
const LAUNCHES: usize = 500;
const CLOSE_RUNS: usize = 50;

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Floor,
    Daemonic,
    Classic,
    Daemonize,
}

impl Variant {
    const ALL: [Variant; 4] = [
        Variant::Floor,
        Variant::Daemonic,
        Variant::Classic,
        Variant::Daemonize,
    ];

    fn name(self) -> &'static str {
        match self {
            Variant::Floor => "floor",
            Variant::Daemonic => "daemonic",
            Variant::Classic => "classic loop",
            Variant::Daemonize => "daemonize crate",
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(TARGET_ARG) {
        return target(&args[2], Path::new(&args[3]), Path::new(&args[4]));
    }
    if args.iter().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for the list; there is none
    }
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).expect("raise the soft limit");
    // Orphaned daemons come to this process, which reaps them between launches.
    nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");

    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("ready.fifo");
    let fifo_c = CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo reads a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo_c.as_ptr(), 0o600) }, 0, "mkfifo");
    // Held open for reading all along, so a writer's open never blocks; and
    // for writing, so the read end never reports a hang-up between writers,
    // which would make `poll` spin.
    let mut ready = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .expect("open the FIFO");
    let _keep_writer = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(&fifo)
        .expect("hold the FIFO's write end");

    println!("RLIMIT_NOFILE: soft {hard}, hard {hard} (soft raised to hard)");
    println!("{LAUNCHES} launches per variant, interleaved; times in microseconds\n");
    let mut samples: Vec<(Vec<f64>, Vec<f64>)> = vec![Default::default(); Variant::ALL.len()];
    for round in 0..LAUNCHES {
        // Each variant follows each other in turn, so none always comes
        // right after the classic loop's thousands of closes.
        for step in 0..Variant::ALL.len() {
            let i = (round + step) % Variant::ALL.len();
            let variant = &Variant::ALL[i];
            let pidfile = dir.path().join(format!("{round}-{i}.pid"));
            let (to_ready, to_exit) = launch(*variant, &fifo, &pidfile, &mut ready);
            samples[i].0.push(to_ready);
            samples[i].1.push(to_exit);
            reap_all();
        }
    }

    let floor = median(&samples[0].0);
    println!(
        "| variant | ready p50 | ready p90 | launcher exit p50 | launcher exit p90 | overhead over floor (ready p50) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let mut overhead = [0.0; 4];
    for (i, variant) in Variant::ALL.iter().enumerate() {
        let (ready_times, exit_times) = &samples[i];
        overhead[i] = median(ready_times) - floor;
        let over = if *variant == Variant::Floor {
            "-".to_owned()
        } else {
            format!(
                "+{:.0} ({:.2}x floor)",
                overhead[i],
                median(ready_times) / floor
            )
        };
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {over} |",
            variant.name(),
            median(ready_times),
            p90(ready_times),
            median(exit_times),
            p90(exit_times),
        );
    }
    let (daemonic, classic, daemonize) = (overhead[1], overhead[2], overhead[3]);
    // Rounds are interleaved, so the round-by-round difference cancels most
    // of the machine's drift; its median is the fairest single number.
    let paired: Vec<f64> = samples[1]
        .0
        .iter()
        .zip(&samples[3].0)
        .map(|(ours, theirs)| ours - theirs)
        .collect();
    let faster = paired.iter().filter(|d| **d <= 0.0).count();
    println!();
    println!(
        "daemonic - daemonize crate, launch to ready, paired by round: median {:+.0} us, \
         daemonic faster or equal in {faster} of {LAUNCHES} rounds",
        median(&paired)
    );
    println!(
        "target: daemonic's overhead <= the daemonize crate's: {:.0} vs {:.0} us (paired median {:+.0} us): {}",
        daemonic,
        daemonize,
        median(&paired),
        verdict(median(&paired), 0.0)
    );
    let whole = median(&samples[2].0) / median(&samples[1].0);
    println!(
        "target: daemonic >= 10x faster than the classic loop at the hard limit: \
         overhead over the floor {:.1}x (whole launch {whole:.1}x): {}",
        classic / daemonic,
        verdict(10.0 * daemonic, classic)
    );

    println!("\nThe fd-closing step alone ({CLOSE_RUNS} runs, p50 in microseconds):\n");
    println!(
        "| RLIMIT_NOFILE | fds open above stderr | daemonic (close_range) | classic loop (close each fd below the limit) |"
    );
    println!("|---:|---:|---:|---:|");
    let mut limits: Vec<u64> = [256, 1024, 4096, 16384]
        .into_iter()
        .filter(|&limit| limit < hard)
        .collect();
    limits.push(hard);
    for limit in limits {
        for open in [16, 1000, 10_000] {
            if open + 8 > limit as usize {
                continue;
            }
            let ours = median(&time_close_step(limit, open, CloseStep::Daemonic));
            let loop_ = median(&time_close_step(limit, open, CloseStep::Classic));
            println!("| {limit} | {open} | {ours:.1} | {loop_:.1} |");
        }
    }
    drop(ready);
    let _ = fs::remove_file(&fifo);
}

/// "met" when `value` is at most `bound`, else by how much it is missed.
fn verdict(value: f64, bound: f64) -> String {
    if value <= bound {
        "met".to_owned()
    } else {
        format!("missed by {:.0} us", value - bound)
    }
}

/// One launch: microseconds from the spawn to the ready byte, and to the
/// launcher's exit.
fn launch(variant: Variant, fifo: &Path, pidfile: &Path, ready: &mut File) -> (f64, f64) {
    let exe = std::env::current_exe().expect("own path");
    let mode = match variant {
        Variant::Floor => "floor",
        Variant::Daemonic => "daemonic",
        Variant::Classic => "classic",
        Variant::Daemonize => "daemonize",
    };
    let started = Instant::now();
    let mut child = Command::new(exe)
        .args([TARGET_ARG, mode])
        .arg(fifo)
        .arg(pidfile)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the target");
    let pidfd = pidfd_open(child.id() as i32);
    let (mut to_ready, mut to_exit) = (None, None);
    while to_ready.is_none() || to_exit.is_none() {
        let fired = |fd: &PollFd| fd.revents().is_some_and(|r| r.contains(PollFlags::POLLIN));
        // An event already timed is not asked for again: a pidfd stays readable.
        let wanted = |pending: bool| {
            if pending {
                PollFlags::POLLIN
            } else {
                PollFlags::empty()
            }
        };
        let (ready_fired, exit_fired) = {
            let mut fds = [
                PollFd::new(ready.as_fd(), wanted(to_ready.is_none())),
                PollFd::new(pidfd.as_fd(), wanted(to_exit.is_none())),
            ];
            let timeout = PollTimeout::try_from(10_000).unwrap();
            assert!(
                poll(&mut fds, timeout).expect("poll") > 0,
                "{mode}: no progress in 10 s"
            );
            (fired(&fds[0]), fired(&fds[1]))
        };
        let now = started.elapsed();
        if to_ready.is_none() && ready_fired {
            let mut byte = [0u8; 1];
            if ready.read(&mut byte).unwrap_or(0) == 1 {
                to_ready = Some(now);
            }
        }
        if to_exit.is_none() && exit_fired {
            to_exit = Some(now);
        }
    }
    let status = child.wait().expect("reap the launcher");
    assert!(status.success(), "{mode}: the launcher failed: {status}");
    (micros(to_ready.unwrap()), micros(to_exit.unwrap()))
}

fn pidfd_open(pid: i32) -> OwnedFd {
    // SAFETY: pidfd_open takes a pid and flags, and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    assert!(fd >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
    // SAFETY: the fd was just created and is owned by nothing else.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

/// Waits for every descendant that has ended or is ending: daemons exit right
/// after their ready byte, and come to this subreaper.
fn reap_all() {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Err(_) => return, // ECHILD: none left
            Ok(nix::sys::wait::WaitStatus::StillAlive) => {
                assert!(Instant::now() < deadline, "a target outlived its launch");
                std::thread::sleep(Duration::from_micros(50));
            }
            Ok(_) => {}
        }
    }
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn median(values: &[f64]) -> f64 {
    percentile(values, 0.5)
}

fn p90(values: &[f64]) -> f64 {
    percentile(values, 0.9)
}

fn percentile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[derive(Clone, Copy)]
enum CloseStep {
    Daemonic,
    Classic,
}

/// Times the fd-closing step in forked children whose soft limit is `limit`
/// and that have `open` fds open above stderr.
fn time_close_step(limit: u64, open: usize, step: CloseStep) -> Vec<f64> {
    (0..CLOSE_RUNS)
        .map(|_| {
            let (read, write) = pipe().expect("pipe");
            // SAFETY: this process is single-threaded; the child only makes
            // syscalls, writes to the pipe and _exits.
            match unsafe { fork() }.expect("fork") {
                ForkResult::Child => {
                    drop(read);
                    let nanos = close_step_in_child(limit, open, step, write.as_raw_fd());
                    let mut out = File::from(write);
                    let _ = out.write_all(&nanos.to_le_bytes());
                    // SAFETY: end the child without running the parent's cleanup.
                    unsafe { libc::_exit(0) }
                }
                ForkResult::Parent { child } => {
                    drop(write);
                    let mut bytes = [0u8; 8];
                    File::from(read)
                        .read_exact(&mut bytes)
                        .expect("the child's time");
                    waitpid(child, None).expect("reap");
                    u64::from_le_bytes(bytes) as f64 / 1000.0
                }
            }
        })
        .collect()
}

fn close_step_in_child(limit: u64, open: usize, step: CloseStep, report: RawFd) -> u64 {
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    setrlimit(Resource::RLIMIT_NOFILE, limit, hard).expect("lower the soft limit");
    // `open` fds in all above stderr: the report pipe's end, /dev/null, and copies.
    let null = File::open("/dev/null").expect("/dev/null");
    let extra: Vec<File> = (2..open).map(|_| null.try_clone().unwrap()).collect();
    let started = Instant::now();
    match step {
        CloseStep::Daemonic => {
            // SAFETY: in this child nothing uses the fds but `report`, kept.
            unsafe { daemonic::__testing::close_fds_except(&[report]) }.expect("close_fds_except");
        }
        CloseStep::Classic => {
            // SAFETY: sysconf has no preconditions.
            let table_size = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) } as RawFd;
            for fd in 3..table_size {
                if fd != report {
                    // SAFETY: as above; EBADF for the many closed numbers.
                    unsafe { libc::close(fd) };
                }
            }
        }
    }
    let nanos = started.elapsed().as_nanos() as u64;
    std::mem::forget(null);
    std::mem::forget(extra); // closed already
    nanos
}

/// The launched program: detach as `mode` says, then write the ready byte.
fn target(mode: &str, fifo: &Path, pidfile: &Path) {
    let _running = match mode {
        "floor" => None,
        // What `#[daemonic::daemon(pidfile = ..)]` expands to.
        "daemonic" => Some(daemonic::__private::detach(
            daemonic::Daemon::new().pidfile(pidfile),
        )),
        "classic" => {
            classic_detach();
            None
        }
        "daemonize" => {
            daemonize::Daemonize::new()
                .pid_file(pidfile)
                .start()
                .expect("daemonize");
            None
        }
        other => panic!("unknown mode {other}"),
    };
    let mut fifo = OpenOptions::new()
        .write(true)
        .open(fifo)
        .expect("open the FIFO");
    fifo.write_all(b"!").expect("write the ready byte");
}

/// The textbook C sequence: fork, setsid, fork, chdir, umask, then close
/// every fd below getdtablesize() and point stdio at /dev/null.
fn classic_detach() {
    // SAFETY: the target is single-threaded; each parent leaves with _exit.
    unsafe {
        if libc::fork() != 0 {
            libc::_exit(0);
        }
        libc::setsid();
        if libc::fork() != 0 {
            libc::_exit(0);
        }
        libc::chdir(c"/".as_ptr());
        libc::umask(0);
        for fd in 0..libc::getdtablesize() {
            libc::close(fd);
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        libc::dup2(null, 1);
        libc::dup2(null, 2);
    }
}

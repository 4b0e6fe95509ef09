//! Launch benchmark: what detaching adds to a service's start-up, measured on
//! real processes. Run it with `cargo bench --bench launch`; add
//! `--features timings` for the per-step breakdown, and `-- --quick` for
//! the short run that CI prints (100 rounds).
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
/// The launches per variant, and the fd step's runs per row: the full run,
/// and the quick one that CI prints.
const LAUNCHES: usize = 500;
const QUICK_LAUNCHES: usize = 100;
const CLOSE_RUNS: usize = 50;
const QUICK_CLOSE_RUNS: usize = 15;

/// The limit that containers are often given, for the extrapolated line.
const CONTAINER_LIMIT: u64 = 1_048_576;

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    /// The exec alone: spawn the program, which writes its byte at once.
    Floor,
    /// What any correct detach must pay: fork, setsid, fork, and a one-byte
    /// pipe handshake that lets the launcher exit.
    DoubleFork,
    Daemonic,
    Classic,
    Daemonize,
}

impl Variant {
    const ALL: [Variant; 5] = [
        Variant::Floor,
        Variant::DoubleFork,
        Variant::Daemonic,
        Variant::Classic,
        Variant::Daemonize,
    ];

    fn name(self) -> &'static str {
        match self {
            Variant::Floor => "exec floor",
            Variant::DoubleFork => "bare double fork",
            Variant::Daemonic => "daemonic",
            Variant::Classic => "classic loop",
            Variant::Daemonize => "daemonize crate",
        }
    }

    /// The target's argument.
    fn mode(self) -> &'static str {
        match self {
            Variant::Floor => "floor",
            Variant::DoubleFork => "double-fork",
            Variant::Daemonic => "daemonic",
            Variant::Classic => "classic",
            Variant::Daemonize => "daemonize",
        }
    }

    fn index(self) -> usize {
        Variant::ALL.iter().position(|v| *v == self).unwrap()
    }
}

/// One launch's times, in microseconds from the spawn.
#[derive(Clone, Copy, Default)]
struct Times {
    ready: f64,
    exit: f64,
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

    // Pidfiles live in /run, a tmpfs: so do this bench's, in /dev/shm when
    // there is one. On a disk's filesystem, creating the file alone can
    // cost more than the whole detach (250 us on this machine's ext4), and
    // every variant with a pidfile would pay it.
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::Builder::new()
            .prefix("daemonic-bench")
            .tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("temp dir");
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

    let quick = args.iter().any(|a| a == "--quick");
    let launches = if quick { QUICK_LAUNCHES } else { LAUNCHES };
    let close_runs = if quick { QUICK_CLOSE_RUNS } else { CLOSE_RUNS };
    println!("RLIMIT_NOFILE: soft {hard}, hard {hard} (soft raised to hard)");
    println!("pidfiles and the FIFO in {}", dir.path().display());
    println!("{launches} launches per variant, interleaved; times in microseconds\n");
    let mut samples: Vec<Vec<Times>> = vec![Vec::new(); Variant::ALL.len()];
    for round in 0..launches {
        // Each variant follows each other in turn, so none always comes
        // right after the classic loop's thousands of closes.
        for step in 0..Variant::ALL.len() {
            let i = (round + step) % Variant::ALL.len();
            let variant = Variant::ALL[i];
            let pidfile = dir.path().join(format!("{round}-{i}.pid"));
            let (times, _) = launch(variant, &fifo, &pidfile, &mut ready, None);
            samples[i].push(times);
            reap_all();
        }
    }
    // The guard CI relies on: every variant ran, every round.
    for variant in Variant::ALL {
        assert_eq!(
            samples[variant.index()].len(),
            launches,
            "variant {} is missing rounds",
            variant.name()
        );
    }
    report_launches(&samples, launches);
    breakdown(&dir, &fifo, &mut ready, if quick { 30 } else { 200 });
    report_close_step(hard, close_runs);
    drop(ready);
    let _ = fs::remove_file(&fifo);
}

/// The medians of each variant's times, over the floors and against the
/// daemonize crate, paired by round, with the targets.
fn report_launches(samples: &[Vec<Times>], launches: usize) {
    let ready = |v: Variant| -> Vec<f64> { samples[v.index()].iter().map(|t| t.ready).collect() };
    let exit = |v: Variant| -> Vec<f64> { samples[v.index()].iter().map(|t| t.exit).collect() };
    let floor = median(&ready(Variant::Floor));
    let double_fork = median(&ready(Variant::DoubleFork));
    println!(
        "| variant | ready p50 | ready p90 | launcher exit p50 | launcher exit p90 | over the exec floor (ready p50) | over the bare double fork (ready p50) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for variant in Variant::ALL {
        let (ready, exit) = (ready(variant), exit(variant));
        let over = |base: f64, is_base: bool| {
            if is_base {
                "-".to_owned()
            } else {
                format!("{:+.0}", median(&ready) - base)
            }
        };
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {} |",
            variant.name(),
            median(&ready),
            p90(&ready),
            median(&exit),
            p90(&exit),
            over(floor, variant == Variant::Floor),
            over(
                double_fork,
                matches!(variant, Variant::Floor | Variant::DoubleFork)
            ),
        );
    }
    // Rounds are interleaved, so the round-by-round difference cancels most
    // of the machine's drift; its median is the fairest single number.
    let paired = |times: fn(&Times) -> f64, other: Variant| -> Vec<f64> {
        samples[Variant::Daemonic.index()]
            .iter()
            .zip(&samples[other.index()])
            .map(|(ours, theirs)| times(ours) - times(theirs))
            .collect()
    };
    let ready_vs_crate = paired(|t| t.ready, Variant::Daemonize);
    let exit_vs_crate = paired(|t| t.exit, Variant::Daemonize);
    let over_double_fork = paired(|t| t.ready, Variant::DoubleFork);
    let faster = ready_vs_crate.iter().filter(|d| **d <= 0.0).count();
    println!();
    println!(
        "daemonic - daemonize crate, paired by round: launch to ready {:+.0} us, launch to \
         the launcher's exit {:+.0} us; daemonic ready first or equal in {faster} of {launches} rounds",
        median(&ready_vs_crate),
        median(&exit_vs_crate),
    );
    println!(
        "target: daemonic - daemonize crate, launch to ready, paired median <= 0: {:+.0} us: {}",
        median(&ready_vs_crate),
        verdict(median(&ready_vs_crate), 0.0)
    );
    println!(
        "target: daemonic - daemonize crate, launch to the launcher's exit, paired median <= 0: \
         {:+.0} us: {}",
        median(&exit_vs_crate),
        verdict(median(&exit_vs_crate), 0.0)
    );
    println!(
        "target: daemonic over the bare double fork, launch to ready, paired median <= 100 us: \
         {:+.0} us: {}",
        median(&over_double_fork),
        verdict(median(&over_double_fork), 100.0)
    );
}

/// With the `timings` feature: daemonic's launches again, each process
/// writing its marks, and the table of where the microseconds go.
#[cfg(feature = "timings")]
fn breakdown(dir: &tempfile::TempDir, fifo: &Path, ready: &mut File, rounds: usize) {
    use std::collections::BTreeMap;
    // (process, step) -> the mark's microseconds after the spawn, per round.
    let mut marks: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for round in 0..rounds {
        let record = dir.path().join(format!("timings-{round}"));
        // Made here: the processes only append to it.
        File::create(&record).expect("the timings file");
        let pidfile = dir.path().join(format!("timings-{round}.pid"));
        let (times, spawned) = launch(Variant::Daemonic, fifo, &pidfile, ready, Some(&record));
        reap_all();
        let text = fs::read_to_string(&record).unwrap_or_default();
        for line in text.lines() {
            let mut words = line.rsplitn(2, ' ');
            let (Some(nanos), Some(name)) = (words.next(), words.next()) else {
                continue;
            };
            let Some((process, step)) = name.split_once(' ') else {
                continue;
            };
            let Ok(nanos) = nanos.parse::<u64>() else {
                continue;
            };
            let since = (nanos as f64 - spawned as f64) / 1000.0;
            marks
                .entry((process.to_owned(), step.to_owned()))
                .or_default()
                .push(since);
        }
        for (step, at) in [
            ("ready byte seen", times.ready),
            ("launcher exit seen", times.exit),
        ] {
            marks
                .entry(("bench".to_owned(), step.to_owned()))
                .or_default()
                .push(at);
        }
    }
    let mut rows: Vec<(f64, &(String, String))> =
        marks.iter().map(|(key, at)| (median(at), key)).collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    println!(
        "\nWhere daemonic's microseconds go ({rounds} launches with `--features timings`; \
         p50 of each mark after the spawn, in time order across the processes):\n"
    );
    println!("| process | step done | after the spawn (p50) | since the mark above |");
    println!("|---|---|---:|---:|");
    let mut previous = 0.0;
    for (at, (process, step)) in rows {
        println!("| {process} | {step} | {at:.0} | {:+.0} |", at - previous);
        previous = at;
    }
}

#[cfg(not(feature = "timings"))]
fn breakdown(_: &tempfile::TempDir, _: &Path, _: &mut File, _: usize) {
    println!("\n(the per-step breakdown: run with `--features timings`)");
}

/// The fd-closing step alone, at every limit this machine allows, the
/// loop's cost fitted as linear in the limit, and both extrapolated to a
/// container's 1,048,576.
fn report_close_step(hard: u64, runs: usize) {
    println!("\nThe fd-closing step alone ({runs} runs, p50 in microseconds):\n");
    println!(
        "| RLIMIT_NOFILE | fds open above stderr | daemonic (close_range) | classic loop (close each fd below the limit) |"
    );
    println!("|---:|---:|---:|---:|");
    let mut limits: Vec<u64> = [256, 1024, 2048, 4096, 8192, 16384]
        .into_iter()
        .filter(|&limit| limit < hard)
        .collect();
    limits.push(hard);
    let mut fit_points: Vec<(f64, f64, f64)> = Vec::new();
    for &limit in &limits {
        for open in [16, 1000, 10_000] {
            if open + 8 > limit as usize {
                continue;
            }
            let ours = median(&time_close_step(limit, open, CloseStep::Daemonic, runs));
            let loop_ = median(&time_close_step(limit, open, CloseStep::Classic, runs));
            println!("| {limit} | {open} | {ours:.1} | {loop_:.1} |");
            if open == 16 {
                fit_points.push((limit as f64, ours, loop_));
            }
        }
    }
    let (loop_at, loop_per_fd) = linear_fit(fit_points.iter().map(|p| (p.0, p.2)));
    let (ours_at, ours_per_fd) = linear_fit(fit_points.iter().map(|p| (p.0, p.1)));
    let loop_big = loop_at + loop_per_fd * CONTAINER_LIMIT as f64;
    let ours_big = ours_at + ours_per_fd * CONTAINER_LIMIT as f64;
    println!();
    println!(
        "fit, 16 fds open, limits {} to {hard}: classic loop {loop_at:.1} us + {:.2} ns per unit \
         of limit; daemonic {ours_at:.1} us + {:.3} ns per unit (flat: it never looks at the limit)",
        limits[0],
        loop_per_fd * 1000.0,
        ours_per_fd * 1000.0,
    );
    println!(
        "extrapolated to RLIMIT_NOFILE {CONTAINER_LIMIT} (not measured: this machine's hard \
         limit is {hard}): classic loop {:.0} us, daemonic {:.1} us, {:.0}x",
        loop_big,
        ours_big.max(ours_at),
        loop_big / ours_big.max(ours_at)
    );
}

/// Least squares: (intercept, slope) of y against x.
fn linear_fit(points: impl Iterator<Item = (f64, f64)>) -> (f64, f64) {
    let points: Vec<(f64, f64)> = points.collect();
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let covariance: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let variance: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let slope = if variance > 0.0 {
        covariance / variance
    } else {
        0.0
    };
    (mean_y - slope * mean_x, slope)
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
/// launcher's exit, and the spawn's `CLOCK_MONOTONIC` nanoseconds. With
/// `timings`, the processes write their marks there.
fn launch(
    variant: Variant,
    fifo: &Path,
    pidfile: &Path,
    ready: &mut File,
    timings: Option<&Path>,
) -> (Times, u64) {
    let exe = std::env::current_exe().expect("own path");
    let mode = variant.mode();
    let mut command = Command::new(exe);
    command
        .args([TARGET_ARG, mode])
        .arg(fifo)
        .arg(pidfile)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    match timings {
        Some(path) => command.env("DAEMONIC_TIMINGS", path),
        None => command.env_remove("DAEMONIC_TIMINGS"),
    };
    let spawned = monotonic_nanos();
    let started = Instant::now();
    let mut child = command.spawn().expect("spawn the target");
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
    let times = Times {
        ready: micros(to_ready.unwrap()),
        exit: micros(to_exit.unwrap()),
    };
    (times, spawned)
}

/// The clock the processes' marks are taken on.
fn monotonic_nanos() -> u64 {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut time) };
    time.tv_sec as u64 * 1_000_000_000 + time.tv_nsec as u64
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
fn time_close_step(limit: u64, open: usize, step: CloseStep, runs: usize) -> Vec<f64> {
    (0..runs)
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
        "double-fork" => {
            bare_double_fork();
            None
        }
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
    // A daemon serves on after it is ready; this one ends, and its exit
    // (its pidfile removed, its memory torn down) would compete for the
    // CPUs with the launcher's exit, which the bench times. So it stays a
    // moment, as the real one would, before it goes.
    if mode != "floor" {
        std::thread::sleep(Duration::from_millis(3));
    }
}

/// The floor of any correct detach: fork, setsid, fork, and one byte on a
/// pipe from the daemon that lets the launcher exit. Nothing else.
fn bare_double_fork() {
    // SAFETY: the target is single-threaded; each parent leaves with _exit.
    unsafe {
        let mut ends = [0; 2];
        libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC);
        let [read, write] = ends;
        if libc::fork() != 0 {
            libc::close(write);
            let mut byte = 0u8;
            libc::read(read, (&mut byte as *mut u8).cast(), 1);
            libc::_exit(0);
        }
        libc::close(read);
        libc::setsid();
        if libc::fork() != 0 {
            libc::_exit(0);
        }
        libc::write(write, b"!".as_ptr().cast(), 1);
        libc::close(write);
    }
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

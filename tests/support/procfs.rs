//! Reading a process from outside, through `/proc/<pid>`.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use nix::libc;
use nix::sys::signal::kill;
use nix::unistd::Pid;

use super::{wait_until, EXIT};

/// The fields of `/proc/<pid>/stat` the tests look at.
#[derive(Debug)]
pub struct Stat {
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    pub tty_nr: i32,
}

/// A file of `/proc/<pid>`. The command name in it is cut at 15 bytes, maybe
/// inside a character, so it is not read as strict UTF-8.
fn proc_file(pid: i32, name: &str) -> Option<String> {
    let bytes = fs::read(format!("/proc/{pid}/{name}")).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

pub fn stat(pid: i32) -> Stat {
    let text = proc_file(pid, "stat").expect("read stat");
    // The command name may hold spaces and parentheses; the fields start after the last ')'.
    let fields: Vec<&str> = text[text.rfind(')').expect("comm") + 2..]
        .split(' ')
        .collect();
    let field = |i: usize| fields[i].parse().expect("numeric stat field");
    // After comm: state, ppid, pgrp, session, tty_nr.
    Stat {
        ppid: field(1),
        pgrp: field(2),
        session: field(3),
        tty_nr: field(4),
    }
}

fn status_field(pid: i32, name: &str) -> String {
    let text = proc_file(pid, "status").expect("read status");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("{name} missing from /proc/{pid}/status"))
        .trim()
        .to_owned()
}

/// The `Uid:`, `Gid:`, `Groups:`, `CapPrm:` ... lines of `/proc/<pid>/status`,
/// by name, their fields joined by single spaces.
pub fn status_line(pid: i32, name: &str) -> String {
    status_field(pid, name)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A signal mask of `/proc/<pid>/status`: `SigBlk`, `SigIgn` or `SigCgt`.
pub fn signal_mask(pid: i32, name: &str) -> u64 {
    u64::from_str_radix(&status_field(pid, name), 16).expect("hex signal mask")
}

/// Whether `pid` has a handler for SIGTERM in place (its `SigCgt` bit).
pub fn catches_sigterm(pid: i32) -> bool {
    let sigterm = 1 << (libc::SIGTERM - 1);
    signal_mask(pid, "SigCgt") & sigterm != 0
}

/// Whether `pid` sleeps in sigwait: its wchan names sigtimedwait.
pub fn in_sigwait(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/wchan"))
        .is_ok_and(|wchan| wchan.contains("sigtimedwait"))
}

pub fn umask(pid: i32) -> u32 {
    u32::from_str_radix(&status_field(pid, "Umask"), 8).expect("octal umask")
}

pub fn threads(pid: i32) -> usize {
    status_field(pid, "Threads").parse().expect("thread count")
}

pub fn cwd(pid: i32) -> PathBuf {
    fs::read_link(format!("/proc/{pid}/cwd")).expect("read cwd")
}

/// A daemon's fds once it has let go of its report pipe, which it closes
/// just after the Ready that released the launcher.
pub fn daemon_fds(pid: i32) -> BTreeMap<i32, PathBuf> {
    let report_closed = |fds: &BTreeMap<i32, PathBuf>| {
        !fds.values()
            .any(|target| target.to_string_lossy().starts_with("pipe:"))
    };
    wait_until(EXIT, || report_closed(&fds(pid)));
    fds(pid)
}

/// Each open fd and what it points at.
pub fn fds(pid: i32) -> BTreeMap<i32, PathBuf> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("list fds")
        .filter_map(|entry| {
            let entry = entry.expect("fd entry");
            let fd = entry.file_name().to_str().unwrap().parse().unwrap();
            match fs::read_link(entry.path()) {
                Ok(target) => Some((fd, target)),
                // Closed between the listing and the look: it is not open.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => panic!("fd {fd} of {pid}: {e}"),
            }
        })
        .collect()
}

/// The open flags of `fd` in `pid`, from `/proc/<pid>/fdinfo`.
pub fn fd_flags(pid: i32, fd: i32) -> i32 {
    let info = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).expect("read fdinfo");
    let flags = info
        .lines()
        .find_map(|line| line.strip_prefix("flags:"))
        .expect("flags in fdinfo");
    i32::from_str_radix(flags.trim(), 8).expect("octal flags")
}

pub fn alive(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok() && !is_zombie(pid)
}

fn is_zombie(pid: i32) -> bool {
    proc_file(pid, "stat")
        .map(|text| text[text.rfind(')').unwrap_or(0)..].starts_with(") Z"))
        .unwrap_or(true)
}

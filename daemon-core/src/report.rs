//! The pipe from the daemon back to the launcher: the messages and their framing.
//!
//! A frame is a kind byte, a little-endian `u32` length and the payload. A
//! failure carries the step, the errno and the path, so the launcher rebuilds
//! the same [`Error`] the daemon saw without sharing any state with it.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use nix::errno::Errno;

use crate::Error;

/// What the daemon tells its launcher.
#[derive(Debug)]
pub(crate) enum Report {
    /// The daemon's pid, sent first, so the launcher can wait for it or stop it.
    Pid(i32),
    /// A line for the launcher to print on its stdout.
    Status(String),
    /// The daemon is panicking; the launcher names it when the daemon dies.
    Panic(String),
    /// Why the daemon will not be ready; the launcher names it when the daemon dies.
    NotReady(String),
    /// The daemon is ready; the launcher exits 0.
    Ready,
    /// A step after the first fork failed; the daemon has exited.
    Failed(Error),
}

const PID: u8 = b'P';
const STATUS: u8 = b'S';
const PANIC: u8 = b'X';
const NOT_READY: u8 = b'N';
const READY: u8 = b'R';
const FAILED: u8 = b'E';

impl Report {
    pub(crate) fn write_to(&self, mut pipe: &File) -> io::Result<()> {
        let (kind, payload) = match self {
            Report::Pid(pid) => (PID, pid.to_le_bytes().to_vec()),
            Report::Status(line) => (STATUS, line.as_bytes().to_vec()),
            Report::Panic(message) => (PANIC, message.as_bytes().to_vec()),
            Report::NotReady(reason) => (NOT_READY, reason.as_bytes().to_vec()),
            Report::Ready => (READY, Vec::new()),
            Report::Failed(error) => (FAILED, encode_failure(error)),
        };
        let mut frame = Vec::with_capacity(5 + payload.len());
        frame.push(kind);
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        frame.extend_from_slice(&payload);
        pipe.write_all(&frame)
    }

    /// Reads one report; `None` when the pipe closed without one.
    pub(crate) fn read_from(mut pipe: &File) -> Option<Report> {
        let mut header = [0u8; 5];
        pipe.read_exact(&mut header).ok()?;
        let len = u32::from_le_bytes(header[1..5].try_into().ok()?) as usize;
        let mut payload = vec![0u8; len];
        pipe.read_exact(&mut payload).ok()?;
        let text = || String::from_utf8_lossy(&payload).into_owned();
        match header[0] {
            PID => Some(Report::Pid(i32::from_le_bytes(
                payload[..].try_into().ok()?,
            ))),
            STATUS => Some(Report::Status(text())),
            PANIC => Some(Report::Panic(text())),
            NOT_READY => Some(Report::NotReady(text())),
            READY => Some(Report::Ready),
            FAILED => decode_failure(&payload).map(Report::Failed),
            _ => None,
        }
    }
}

fn encode_failure(error: &Error) -> Vec<u8> {
    // Step codes; only the steps that run after the first fork travel the pipe.
    let none = Errno::UnknownErrno;
    let (step, errno, number, path) = match error {
        Error::Fork(e) => (0u8, *e, 0, None),
        Error::Setsid(e) => (1, *e, 0, None),
        Error::Workdir { path, source } => (2, *source, 0, Some(path)),
        Error::DevNull(e) => (3, *e, 0, None),
        Error::Stdout { path, source } => (4, *source, 0, Some(path)),
        Error::Stderr { path, source } => (5, *source, 0, Some(path)),
        Error::CloseFds(e) => (6, *e, 0, None),
        Error::Signals(e) => (7, *e, 0, None),
        Error::Pidfile { path, source } => (8, *source, 0, Some(path)),
        Error::Pipe(e) => (9, *e, 0, None),
        Error::Chroot { path, source } => (10, *source, 0, Some(path)),
        Error::Setgroups(e) => (11, *e, 0, None),
        Error::Setgid { gid, source } => (12, *source, *gid, None),
        Error::Setuid { uid, source } => (13, *source, *uid, None),
        Error::RegainedRoot { uid } => (14, none, *uid, None),
        // Raised in the launcher, before the fork; never panic in the child.
        _ => (u8::MAX, none, 0, None),
    };
    let mut payload = vec![step];
    payload.extend_from_slice(&(errno as i32).to_le_bytes());
    payload.extend_from_slice(&number.to_le_bytes());
    if let Some(path) = path {
        payload.extend_from_slice(path.as_os_str().as_bytes());
    }
    payload
}

fn decode_failure(payload: &[u8]) -> Option<Error> {
    let (&step, rest) = payload.split_first()?;
    let source = Errno::from_raw(i32::from_le_bytes(rest.get(..4)?.try_into().ok()?));
    let number = u32::from_le_bytes(rest.get(4..8)?.try_into().ok()?);
    let path = PathBuf::from(OsString::from_vec(rest[8..].to_vec()));
    Some(match step {
        0 => Error::Fork(source),
        1 => Error::Setsid(source),
        2 => Error::Workdir { path, source },
        3 => Error::DevNull(source),
        4 => Error::Stdout { path, source },
        5 => Error::Stderr { path, source },
        6 => Error::CloseFds(source),
        7 => Error::Signals(source),
        8 => Error::Pidfile { path, source },
        9 => Error::Pipe(source),
        10 => Error::Chroot { path, source },
        11 => Error::Setgroups(source),
        12 => Error::Setgid {
            gid: number,
            source,
        },
        13 => Error::Setuid {
            uid: number,
            source,
        },
        14 => Error::RegainedRoot { uid: number },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(report: &Report) -> Option<Report> {
        let (read, write) = nix::unistd::pipe().unwrap();
        let (read, write) = (File::from(read), File::from(write));
        report.write_to(&write).unwrap();
        drop(write);
        Report::read_from(&read)
    }

    #[test]
    fn every_post_fork_failure_survives_the_pipe() {
        let path = PathBuf::from("/tmp/some dir/app.pid");
        let errors = [
            Error::Fork(Errno::EAGAIN),
            Error::Setsid(Errno::EPERM),
            Error::Workdir {
                path: path.clone(),
                source: Errno::ENOENT,
            },
            Error::DevNull(Errno::EACCES),
            Error::Stdout {
                path: path.clone(),
                source: Errno::EISDIR,
            },
            Error::Stderr {
                path: path.clone(),
                source: Errno::EROFS,
            },
            Error::CloseFds(Errno::EINVAL),
            Error::Signals(Errno::EFAULT),
            Error::Pidfile {
                path: path.clone(),
                source: Errno::ENOSPC,
            },
            Error::Pipe(Errno::EPIPE),
            Error::Chroot {
                path,
                source: Errno::EPERM,
            },
            Error::Setgroups(Errno::EPERM),
            Error::Setgid {
                gid: 65534,
                source: Errno::EPERM,
            },
            Error::Setuid {
                uid: 65533,
                source: Errno::EAGAIN,
            },
            Error::RegainedRoot { uid: 65532 },
        ];
        for error in errors {
            match round_trip(&Report::Failed(error.clone())) {
                Some(Report::Failed(back)) => assert_eq!(back, error),
                other => panic!("{error:?} came back as {other:?}"),
            }
        }
    }

    #[test]
    fn every_other_report_survives_the_pipe_and_silence_reads_as_none() {
        assert!(matches!(round_trip(&Report::Ready), Some(Report::Ready)));
        assert!(matches!(
            round_trip(&Report::Pid(4242)),
            Some(Report::Pid(4242))
        ));
        let line = "addr: 127.0.0.1:8080 é";
        assert!(
            matches!(round_trip(&Report::Status(line.into())), Some(Report::Status(l)) if l == line)
        );
        assert!(
            matches!(round_trip(&Report::Panic("boom".into())), Some(Report::Panic(m)) if m == "boom")
        );
        let (read, write) = nix::unistd::pipe().unwrap();
        drop(write);
        assert!(Report::read_from(&File::from(read)).is_none());
    }
}

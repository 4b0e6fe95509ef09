//! The pipe from the daemon back to the launcher: the messages, their
//! framing, and the two ends, neither of which may block past a deadline.
//!
//! A frame is a kind byte, a little-endian `u32` length and the payload, at
//! most [`MAX_PAYLOAD`] bytes: the launcher, which may be root, never
//! allocates what the other side merely claims. A failure carries the step,
//! the errno and the path, so the launcher rebuilds the same [`Error`] the
//! daemon saw without sharing any state with it.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::time::Instant;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::libc;
use nix::poll::PollFlags;

use crate::error::Wire;
use crate::sys;
use crate::Error;

/// The largest payload a frame carries; longer text is cut to fit.
pub(crate) const MAX_PAYLOAD: usize = 64 * 1024;

/// How much the daemon keeps of frames the launcher has not read yet;
/// past it, new status lines are dropped whole, never cut.
const MAX_PENDING: usize = 256 * 1024;

/// What the daemon tells its launcher.
#[derive(Debug)]
pub(crate) enum Report {
    /// The daemon's pid, sent first and only by the intermediate process,
    /// so the launcher can wait for it or stop it.
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
const HEADER: usize = 5;

impl Report {
    /// The frame, its text cut at a character boundary to fit [`MAX_PAYLOAD`].
    pub(crate) fn encode(&self) -> Vec<u8> {
        let text = |text: &str| {
            let mut end = text.len().min(MAX_PAYLOAD);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.as_bytes()[..end].to_vec()
        };
        let (kind, mut payload) = match self {
            Report::Pid(pid) => (PID, pid.to_le_bytes().to_vec()),
            Report::Status(line) => (STATUS, text(line)),
            Report::Panic(message) => (PANIC, text(message)),
            Report::NotReady(reason) => (NOT_READY, text(reason)),
            Report::Ready => (READY, Vec::new()),
            Report::Failed(error) => (FAILED, encode_failure(error)),
        };
        payload.truncate(MAX_PAYLOAD);
        let mut frame = Vec::with_capacity(HEADER + payload.len());
        frame.push(kind);
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        frame.extend_from_slice(&payload);
        frame
    }

    /// Writes the frame whole, blocking: for the intermediate process and a
    /// failing daemon, whose frames are the first and only ones in the pipe.
    pub(crate) fn write_to(&self, mut pipe: &File) -> io::Result<()> {
        // The pid and Ready frames, the ones on the path to a running
        // daemon, are built on the stack: in a fresh fork, the heap's first
        // allocation costs copy-on-write faults.
        let pid_frame;
        let frame: &[u8] = match self {
            Report::Pid(pid) => {
                pid_frame = fixed_frame(PID, &pid.to_le_bytes());
                &pid_frame
            }
            Report::Ready => &[READY, 0, 0, 0, 0],
            _ => return pipe.write_all(&self.encode()),
        };
        pipe.write_all(frame)
    }

    fn decode(kind: u8, payload: &[u8]) -> Option<Report> {
        let text = || printable(&String::from_utf8_lossy(payload));
        match kind {
            PID => Some(Report::Pid(i32::from_le_bytes(payload.try_into().ok()?))),
            STATUS => Some(Report::Status(text())),
            PANIC => Some(Report::Panic(text())),
            NOT_READY => Some(Report::NotReady(text())),
            READY if payload.is_empty() => Some(Report::Ready),
            FAILED => decode_failure(payload).map(Report::Failed),
            _ => None,
        }
    }
}

/// A frame of a four-byte payload, as `encode` writes it.
fn fixed_frame(kind: u8, payload: &[u8; 4]) -> [u8; HEADER + 4] {
    let mut frame = [0u8; HEADER + 4];
    frame[0] = kind;
    frame[1..HEADER].copy_from_slice(&4u32.to_le_bytes());
    frame[HEADER..].copy_from_slice(payload);
    frame
}

/// `text` with its control characters escaped: what the daemon's code
/// wrote reaches the launcher's terminal, and must not move its cursor or
/// forge a line of its own.
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escaped = c.is_control().then(|| c.escape_default());
            escaped
                .into_iter()
                .flatten()
                .chain((!c.is_control()).then_some(c))
        })
        .collect()
}

/// What the launcher's next read gave.
#[derive(Debug)]
pub(crate) enum Next {
    Frame(Report),
    /// Every writer closed the pipe.
    Closed,
    /// The deadline passed with no whole frame.
    Late,
    /// A frame that no daemon of ours writes: too long, or of no known kind.
    Garbled,
    /// `poll` or `read` on the pipe failed with this error, other than
    /// EINTR and EAGAIN, which are tried again: not a word about the
    /// daemon, which may well run on.
    Failed(Errno),
}

/// The launcher's end: frames read without ever blocking past a deadline,
/// even when the other side stops in the middle of one.
pub(crate) struct Reader {
    pipe: File,
    buffer: Vec<u8>,
    /// Reads made past the deadline, so that a daemon that writes without
    /// end cannot keep the launcher reading.
    late_reads: u32,
}

/// Past the deadline, what the pipe holds is still read, up to this many reads.
const LATE_READS: u32 = 16;

impl Reader {
    pub(crate) fn new(pipe: File) -> Reader {
        // The launcher is the only reader of this pipe: the flag is its own.
        // Without it the reads still never block: each one follows a poll
        // that saw data, and a pipe's read returns what it holds.
        let _ = set_nonblocking(&pipe);
        Reader {
            pipe,
            buffer: Vec::new(),
            late_reads: 0,
        }
    }

    /// The next frame, or why there is none, by `deadline` at the latest.
    pub(crate) fn next(&mut self, deadline: Option<Instant>) -> Next {
        loop {
            if let Some(next) = self.parse() {
                return next;
            }
            let past = deadline.is_some_and(|deadline| Instant::now() >= deadline);
            if past {
                if self.late_reads >= LATE_READS {
                    return Next::Late;
                }
                self.late_reads += 1;
            }
            match sys::poll_until(self.pipe.as_fd(), PollFlags::POLLIN, deadline) {
                Ok(true) => {}
                Ok(false) => return Next::Late,
                Err(e) => return Next::Failed(e),
            }
            let mut chunk = [0u8; 16 * 1024];
            match (&self.pipe).read(&mut chunk) {
                Ok(0) => return Next::Closed,
                Ok(len) => self.buffer.extend_from_slice(&chunk[..len]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if past {
                        return Next::Late;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Next::Failed(crate::sys::io_errno(e)),
            }
        }
    }

    fn parse(&mut self) -> Option<Next> {
        if self.buffer.len() < HEADER {
            return None;
        }
        let len = u32::from_le_bytes(self.buffer[1..HEADER].try_into().expect("4 bytes")) as usize;
        if len > MAX_PAYLOAD {
            return Some(Next::Garbled);
        }
        if self.buffer.len() < HEADER + len {
            return None;
        }
        let frame: Vec<u8> = self.buffer.drain(..HEADER + len).collect();
        Some(match Report::decode(frame[0], &frame[HEADER..]) {
            Some(report) => Next::Frame(report),
            None => Next::Garbled,
        })
    }
}

/// The daemon's end, behind `ready` and `status`: frames queue in order and
/// go out without blocking; only [`Sender::flush_until`] waits, and never
/// past the launcher's own deadline.
pub(crate) struct Sender {
    pipe: File,
    pending: Vec<u8>,
    /// A write failed (the launcher is gone): nothing more can arrive.
    broken: bool,
    /// Whether the pipe is non-blocking on this side. If it could not be
    /// made so, each write follows a poll and takes at most `PIPE_BUF`
    /// bytes, which a pipe that polls writable takes without blocking.
    nonblocking: bool,
    /// When the launcher stops waiting and stops the daemon.
    deadline: Option<Instant>,
    /// The daemon: a process forked from it (a worker) inherits a copy of
    /// this, half a frame maybe, and must write nothing.
    owner: u32,
}

impl Sender {
    pub(crate) fn new(pipe: File, deadline: Option<Instant>) -> Sender {
        // The daemon is the only writer left: the flag is its own.
        let nonblocking = set_nonblocking(&pipe).is_ok();
        Sender {
            pipe,
            pending: Vec::new(),
            broken: false,
            nonblocking,
            deadline,
            owner: std::process::id(),
        }
    }

    /// Queues a status line and sends what the pipe takes now. Past
    /// [`MAX_PENDING`] unread bytes, the line is dropped whole.
    pub(crate) fn send_now(&mut self, report: &Report) {
        let frame = report.encode();
        if self.pending.len() + frame.len() <= MAX_PENDING {
            self.pending.extend_from_slice(&frame);
        }
        self.write_some();
    }

    /// Queues `report` and waits until everything queued is in the pipe, or
    /// the launcher's deadline passes; whether it all went.
    pub(crate) fn flush_until(&mut self, report: &Report) -> bool {
        self.queue(report);
        loop {
            self.write_some();
            if let Some(delivered) = self.settled() {
                return delivered;
            }
            if !self.wait_for_room() {
                return false;
            }
        }
    }

    /// Queues `report` whatever the bound: it must go.
    pub(crate) fn queue(&mut self, report: &Report) {
        self.pending.extend_from_slice(&report.encode());
    }

    /// `Some(true)` once all is written, `Some(false)` once nothing can be.
    pub(crate) fn settled(&self) -> Option<bool> {
        match (self.broken, self.pending.is_empty()) {
            (true, _) => Some(false),
            (false, true) => Some(true),
            (false, false) => None,
        }
    }

    /// A copy of the pipe and the deadline, to wait for room without this.
    pub(crate) fn waiter(&self) -> Option<(std::os::fd::OwnedFd, Option<Instant>)> {
        Some((self.pipe.as_fd().try_clone_to_owned().ok()?, self.deadline))
    }

    fn wait_for_room(&self) -> bool {
        sys::poll_until(self.pipe.as_fd(), PollFlags::POLLOUT, self.deadline) == Ok(true)
    }

    pub(crate) fn write_some(&mut self) {
        if self.owner != std::process::id() {
            self.broken = true;
        }
        while !self.pending.is_empty() && !self.broken {
            let chunk = if self.nonblocking {
                &self.pending[..]
            } else {
                match sys::poll_until(self.pipe.as_fd(), PollFlags::POLLOUT, Some(Instant::now())) {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(_) => {
                        self.broken = true;
                        return;
                    }
                }
                &self.pending[..self.pending.len().min(libc::PIPE_BUF)]
            };
            match (&self.pipe).write(chunk) {
                Ok(len) => {
                    self.pending.drain(..len);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => self.broken = true,
            }
        }
    }
}

fn set_nonblocking(pipe: &File) -> Result<(), Errno> {
    let flags = OFlag::from_bits_truncate(fcntl(pipe, FcntlArg::F_GETFL)?);
    fcntl(pipe, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).map(drop)
}

/// A failure's payload: the step's wire code (from the table in `error`),
/// the errno, a number and the path. An error raised in the launcher only
/// has no code: it never travels, and the child must not panic on it.
fn encode_failure(error: &Error) -> Vec<u8> {
    let wire = error.to_wire().unwrap_or(Wire {
        code: u8::MAX,
        errno: 0,
        number: 0,
        path: PathBuf::new(),
    });
    let mut payload = vec![wire.code];
    payload.extend_from_slice(&wire.errno.to_le_bytes());
    payload.extend_from_slice(&wire.number.to_le_bytes());
    payload.extend_from_slice(wire.path.as_os_str().as_bytes());
    payload
}

fn decode_failure(payload: &[u8]) -> Option<Error> {
    let (&code, rest) = payload.split_first()?;
    let errno = i32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
    let number = u32::from_le_bytes(rest.get(4..8)?.try_into().ok()?);
    let path = PathBuf::from(OsString::from_vec(rest[8..].to_vec()));
    let path = match path.to_str() {
        Some(text) if !text.chars().any(char::is_control) => path,
        _ => PathBuf::from(printable(&path.to_string_lossy())),
    };
    Error::from_wire(Wire {
        code,
        errno,
        number,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader_of(bytes: &[u8]) -> Reader {
        let (read, write) = nix::unistd::pipe().unwrap();
        let (read, write) = (File::from(read), File::from(write));
        // From a thread: a frame may be larger than the pipe holds.
        let bytes = bytes.to_vec();
        std::thread::spawn(move || (&write).write_all(&bytes));
        Reader::new(read)
    }

    fn round_trip(report: &Report) -> Option<Report> {
        match reader_of(&report.encode()).next(None) {
            Next::Frame(report) => Some(report),
            _ => None,
        }
    }

    #[test]
    fn every_post_fork_failure_survives_the_pipe() {
        // Every step of the table, each with an errno, a number and a path.
        for &code in crate::error::WIRE_CODES {
            let error = Error::from_wire(Wire {
                code,
                errno: libc::EPERM,
                number: 1,
                path: PathBuf::from("/tmp/some dir/app.pid"),
            })
            .expect("a step of the table");
            match round_trip(&Report::Failed(error.clone())) {
                Some(Report::Failed(back)) => assert_eq!(back, error),
                other => panic!("{error:?} came back as {other:?}"),
            }
        }
    }

    #[test]
    fn the_stack_built_frames_are_the_encoded_ones() {
        for report in [Report::Pid(4242), Report::Pid(-1), Report::Ready] {
            let (read, write) = nix::unistd::pipe().unwrap();
            let (mut read, write) = (File::from(read), File::from(write));
            report.write_to(&write).unwrap();
            drop(write);
            let mut written = Vec::new();
            read.read_to_end(&mut written).unwrap();
            assert_eq!(written, report.encode(), "{report:?}");
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
        assert!(matches!(reader_of(b"").next(None), Next::Closed));
    }

    #[test]
    fn a_claimed_length_past_the_bound_is_refused_before_any_allocation() {
        let mut frame = vec![STATUS];
        frame.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(reader_of(&frame).next(None), Next::Garbled));
        // A pid frame of the wrong size, and an unknown kind, are garbled too.
        let mut frame = vec![PID];
        frame.extend_from_slice(&2u32.to_le_bytes());
        frame.extend_from_slice(&[1, 2]);
        assert!(matches!(reader_of(&frame).next(None), Next::Garbled));
        assert!(matches!(
            reader_of(&[b'?', 0, 0, 0, 0]).next(None),
            Next::Garbled
        ));
    }

    #[test]
    fn long_text_is_cut_to_the_bound_at_a_character_boundary() {
        let line = "é".repeat(MAX_PAYLOAD);
        match round_trip(&Report::Status(line)) {
            Some(Report::Status(back)) => {
                assert!(back.len() <= MAX_PAYLOAD && back.len() > MAX_PAYLOAD - 2);
                assert!(back.chars().all(|c| c == 'é'));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn half_a_frame_and_silence_end_at_the_deadline() {
        let (read, write) = nix::unistd::pipe().unwrap();
        let (read, write) = (File::from(read), File::from(write));
        (&write).write_all(&[STATUS, 9, 0]).unwrap();
        let mut reader = Reader::new(read);
        let deadline = Instant::now() + std::time::Duration::from_millis(50);
        assert!(matches!(reader.next(Some(deadline)), Next::Late));
        assert!(Instant::now() >= deadline);
        drop(write);
    }

    #[test]
    fn a_full_pipe_never_blocks_status_and_never_cuts_a_frame() {
        let (read, write) = nix::unistd::pipe().unwrap();
        let (read, write) = (File::from(read), File::from(write));
        let deadline = Instant::now() + std::time::Duration::from_millis(50);
        let mut sender = Sender::new(write, Some(deadline));
        let line = "x".repeat(200);
        // Far more than the pipe and the pending bound hold; none of it blocks.
        for _ in 0..5000 {
            sender.send_now(&Report::Status(line.clone()));
        }
        assert!(sender.pending.len() <= MAX_PENDING);
        // Unread, the pipe stays full: ready is not delivered by the deadline.
        assert!(!sender.flush_until(&Report::Ready));
        // What was written is whole frames, in order.
        let mut reader = Reader::new(read);
        let mut lines = 0;
        loop {
            match reader.next(Some(Instant::now())) {
                Next::Frame(Report::Status(back)) => {
                    assert_eq!(back, line);
                    lines += 1;
                }
                Next::Late => break,
                other => panic!("after {lines} lines: {other:?}"),
            }
        }
        assert!(lines > 0);
    }
}

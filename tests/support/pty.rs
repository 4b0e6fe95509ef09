//! A pty as a launcher's controlling terminal, and reading what it shows.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Instant;

use nix::fcntl::{open, OFlag};
use nix::libc;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::stat::Mode;
use nix::unistd::setsid;

use super::EXIT;

/// Gives `command` a controlling terminal, as a shell in a terminal window
/// has: a new pty as its stdio, and a session of its own whose terminal that
/// pty is. Returns the master side; dropping it hangs the terminal up.
pub fn on_terminal(command: &mut Command) -> File {
    // Both ends close-on-exec from the start: a copy leaked into a process
    // that another test spawns meanwhile would keep the terminal from hanging up.
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).expect("openpt");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let slave_path = ptsname_r(&master).expect("ptsname");
    let slave = open(
        slave_path.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .expect("open the pty slave");
    let stdio = || Stdio::from(slave.try_clone().expect("dup the pty slave"));
    command.stdin(stdio()).stdout(stdio()).stderr(stdio());
    // SAFETY: setsid and ioctl are async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            // A runner started under nohup hands its ignored SIGHUP down, and
            // the hangup would then end nothing.
            libc::signal(libc::SIGHUP, libc::SIG_DFL);
            setsid()?;
            if libc::ioctl(0, libc::TIOCSCTTY, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // SAFETY: the PtyMaster's fd is moved into the File, which owns it from here.
    unsafe { File::from_raw_fd(master.into_raw_fd()) }
}

/// Reads what the terminal shows until `done` holds for it, or panics.
pub fn read_terminal_until(master: &mut File, mut done: impl FnMut(&str) -> bool) -> String {
    let mut screen = String::new();
    let deadline = Instant::now() + EXIT;
    while !done(&screen) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "the terminal never showed it; it shows {screen:?}"
        );
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        let timeout = PollTimeout::try_from(left.as_millis().min(60_000) as i32).unwrap();
        if poll(&mut fds, timeout).expect("poll the pty") == 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        match master.read(&mut buf) {
            Ok(0) | Err(_) => panic!("the terminal closed; it showed {screen:?}"),
            Ok(len) => screen.push_str(&String::from_utf8_lossy(&buf[..len])),
        }
    }
    screen
}

//! Make a Unix daemon correctly, with one attribute on `fn main`.
//!
//! ```no_run
//! #[daemonic::daemon(umask = 0o027, pidfile = "/tmp/app.pid", ready = "notify")]
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     // Detached: a new session, no terminal, stdio on /dev/null, every
//!     // inherited fd closed, the pidfile locked for the daemon's life.
//!     // The runtime starts only now.
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     daemonic::status(format!("addr: {}", listener.local_addr()?)); // printed by the launcher
//!     daemonic::ready(); // the launcher exits 0 now
//!     loop {
//!         let (_socket, _) = listener.accept().await?;
//!     }
//! }
//! ```
//!
//! The attribute goes on the program's entry point, the `fn main` at the
//! crate root, and runs the detach as its first statement, before any
//! thread or async runtime exists: `fork` copies only the calling thread, so a
//! threaded process is refused. The sequence is the classic one: fork,
//! `setsid`, fork again, `umask`, stdio, close every other fd, `chroot`, `chdir`,
//! reset signals, write the pidfile, change user. The command you ran, the
//! launcher, waits until the daemon is up, or tells you in one line why it
//! is not. The same binary can also stop, reload, restart or upgrade the
//! running daemon, which it finds by its pidfile's lock.
//!
//! This page is the reference; the repository's README is the front page,
//! and `tests/README.md` lists the tests that back each promise made here.
//!
//! - [What the attribute does](#what-the-attribute-does): the sequence, step by step
//! - [The order with tokio](#the-order-with-tokio)
//! - [Without the attribute](#without-the-attribute): the [`Daemon`] builder
//! - [Options](#options): each option's type, default and meaning
//! - [Readiness](#readiness): `ready = "notify"`, [`ready()`], [`status()`],
//!   and what the launcher says when the daemon never gets there
//! - [Foreground and systemd](#foreground-and-systemd)
//! - [Containers and supervisors](#containers-and-supervisors): as PID 1, its own init
//! - [Privileges and chroot](#privileges-and-chroot), with `keep_fds`
//! - [Logs and rotation](#logs-and-rotation): [`reopen_logs()`]
//! - [Control commands](#control-commands): each command and its exit codes
//! - [Sockets and upgrades](#sockets-and-upgrades): [`listeners()`] and [`upgrade()`]
//! - [Errors](#errors): at compile time and at run time
//! - [Security model](#security-model)
//! - [Platforms](#platforms): Linux, FreeBSD and macOS
//!
#![doc = include_str!("docs/sequence.md")]
#![doc = include_str!("docs/options.md")]
#![doc = include_str!("docs/readiness.md")]
#![doc = include_str!("docs/foreground.md")]
#![doc = include_str!("docs/privileges.md")]
#![doc = include_str!("docs/control.md")]
#![doc = include_str!("docs/upgrades.md")]
#![doc = include_str!("docs/errors.md")]
#![doc = include_str!("docs/security.md")]
#![doc = include_str!("docs/platforms.md")]
#![deny(missing_docs)]

pub use daemonic_core::{
    listeners, not_ready, ready, reopen_logs, signal_number, status, upgrade, Account, Cause,
    Control, Daemon, Detached, Error, IntoControl, Readiness, Status, Stopped,
    DEFAULT_READY_TIMEOUT, DEFAULT_RELOAD_SIGNAL, DEFAULT_STOP_TIMEOUT, DEFAULT_UMASK,
    DEFAULT_UPGRADE_SIGNAL, FOREGROUND_ENV, INIT_ENV,
};
pub use daemonic_macro::daemon;

#[doc(hidden)]
pub use daemonic_core::__testing;

/// What the attribute's expansion calls. Not public API: it only
/// re-exports, and the policy it names lives in `daemonic-core`.
#[doc(hidden)]
pub mod __private {
    pub use daemonic_core::__attribute::*;
    pub use daemonic_core::{Account, Control, Daemon, Readiness};
}

/// The README's Rust blocks, compiled as doc-tests: `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

//! What the integration tests share, one job a module, all re-exported here.
#![allow(dead_code)] // each test binary uses a different part

pub mod app;
mod bystander;
mod client;
mod host;
mod outcome;
mod procfs;
mod pty;
mod sandbox;
mod service;
mod stop;
mod wait;

// One flat namespace, `support::name`, whichever module holds the name; each
// test binary imports a different part of it.
#[allow(unused_imports)]
pub use self::{
    bystander::{assert_a_forged_pid_frame_signals_nobody_else, Bystander},
    client::{ask, socket_activator},
    host::{has_socket_activator, has_strace, is_root, nobody, raise_nofile_limit, skipped},
    outcome::{addr_of, assert_failed_cleanly, daemon_pid, pid_in, said, wait_for_pidfile},
    procfs::{
        alive, catches_sigterm, cwd, daemon_fds, fd_flags, fds, in_sigwait, signal_mask, stat,
        status_line, threads, umask, Stat,
    },
    pty::{on_terminal, read_terminal_until},
    sandbox::{directory_of, example, inherit_fds, os, Launch, Running, Sandbox},
    service::service,
    stop::{stop, stop_now, stop_without_pidfile, wait_for_sigwait},
    wait::{wait_for_line, wait_until, EXIT},
};

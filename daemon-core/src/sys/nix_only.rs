//! What nix gives Linux and FreeBSD alike, and macOS lacks: `waitid` with
//! `WNOWAIT`, and the group list calls.

use std::ffi::CStr;

use nix::errno::Errno;
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::{Gid, Pid};

/// How a child of this process ended, if it has, leaving it a zombie.
pub(crate) fn peek_child(pid: Pid) -> Result<WaitStatus, Errno> {
    waitid(
        Id::Pid(pid),
        WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT,
    )
}

pub(crate) fn group_list(name: &CStr, gid: Gid) -> Result<Vec<Gid>, Errno> {
    nix::unistd::getgrouplist(name, gid)
}

pub(crate) fn set_groups(groups: &[Gid]) -> Result<(), Errno> {
    nix::unistd::setgroups(groups)
}

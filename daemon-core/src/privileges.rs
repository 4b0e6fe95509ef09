//! The switch to an unprivileged user: accounts resolved in the launcher,
//! credentials dropped in the daemon, and proof that root cannot come back.

use std::ffi::CString;

use nix::unistd::{getegid, geteuid, setegid, seteuid, setgid, setuid, Gid, Group, Uid, User};

use crate::pidfile::Writers;
use crate::{sys, Error};

/// A user or a group, by name or by number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    /// A name, looked up in the passwd or group database.
    Name(String),
    /// A numeric uid or gid.
    Id(u32),
}

impl From<&str> for Account {
    fn from(name: &str) -> Self {
        Account::Name(name.to_owned())
    }
}

impl From<String> for Account {
    fn from(name: String) -> Self {
        Account::Name(name)
    }
}

impl From<u32> for Account {
    fn from(id: u32) -> Self {
        Account::Id(id)
    }
}

impl std::fmt::Display for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Account::Name(name) => f.write_str(name),
            Account::Id(id) => write!(f, "{id}"),
        }
    }
}

/// What the daemon becomes, resolved before any fork: the lookups need the
/// databases outside a chroot, and a typo must fail in the launcher.
#[derive(Debug)]
pub(crate) struct Credentials {
    /// `user NAME`, or else `group NAME`, as given, for messages.
    account: String,
    uid: Option<Uid>,
    gid: Gid,
    groups: Vec<Gid>,
}

/// Looks the accounts up; `None` when neither is asked for.
pub(crate) fn resolve(
    user: Option<&Account>,
    group: Option<&Account>,
) -> Result<Option<Credentials>, Error> {
    if user.is_none() && group.is_none() {
        return Ok(None);
    }
    for (option, account) in [("user", user), ("group", group)] {
        if let Some(Account::Name(name)) =
            account.filter(|a| matches!(a, Account::Name(n) if n.contains('\0')))
        {
            return Err(Error::NulByte {
                option,
                value: name.clone(),
            });
        }
    }
    let lookup_failed = |account: &Account, source| Error::Lookup {
        account: account.to_string(),
        errno: source as i32,
    };
    let user_entry = match user {
        Some(account @ Account::Name(name)) => Some(
            User::from_name(name)
                .map_err(|e| lookup_failed(account, e))?
                .ok_or_else(|| Error::UnknownUser {
                    user: account.to_string(),
                })?,
        ),
        Some(account @ Account::Id(uid)) => {
            User::from_uid(Uid::from_raw(*uid)).map_err(|e| lookup_failed(account, e))?
        }
        None => None,
    };
    let gid = match group {
        Some(account @ Account::Name(name)) => {
            Group::from_name(name)
                .map_err(|e| lookup_failed(account, e))?
                .ok_or_else(|| Error::UnknownGroup {
                    group: account.to_string(),
                })?
                .gid
        }
        Some(Account::Id(gid)) => Gid::from_raw(*gid),
        None => match (&user_entry, user) {
            (Some(entry), _) => entry.gid,
            // A bare uid with no passwd entry has no primary group to take.
            (None, Some(account)) => {
                return Err(Error::UnknownUser {
                    user: account.to_string(),
                })
            }
            (None, None) => unreachable!("one of user and group is set"),
        },
    };
    let uid = match (user, &user_entry) {
        (Some(Account::Id(uid)), _) => Some(Uid::from_raw(*uid)),
        (_, Some(entry)) => Some(entry.uid),
        _ => None,
    };
    // initgroups semantics for a user named by name; a bare uid or a group
    // alone clears the supplementary groups.
    let groups = match (user, &user_entry) {
        (Some(Account::Name(_)), Some(entry)) => {
            let name = CString::new(entry.name.as_str()).map_err(|_| Error::UnknownUser {
                user: entry.name.clone(),
            })?;
            sys::group_list(&name, gid).map_err(|e| lookup_failed(user.unwrap(), e))?
        }
        _ => Vec::new(),
    };
    let account = match (user, group) {
        (Some(user), _) => format!("user {user}"),
        (None, Some(group)) => format!("group {group}"),
        (None, None) => unreachable!("one of user and group is set"),
    };
    Ok(Some(Credentials {
        account,
        uid,
        gid,
        groups,
    }))
}

impl Credentials {
    /// Refuses, before any fork, a switch that only root can make.
    pub(crate) fn check_permitted(&self) -> Result<(), Error> {
        let is_change = self.uid.is_some_and(|uid| uid != geteuid()) || self.gid != getegid();
        if is_change && !geteuid().is_root() {
            return Err(Error::NotRoot {
                account: self.account.clone(),
                euid: geteuid().as_raw(),
            });
        }
        Ok(())
    }

    /// The daemon's user and group, who may own the pidfile's directory.
    pub(crate) fn writers(&self) -> Writers {
        Writers {
            uids: self.uid.map(Uid::as_raw).into_iter().collect(),
            gids: vec![self.gid.as_raw()],
        }
    }

    /// Runs `open` as the daemon's user, with its groups: a file the daemon
    /// is to keep open after the drop must be one that user could open. A
    /// symlink or a hard link that user planted then reaches nothing more
    /// than the user could reach alone. Only the effective ids change, and
    /// they come back after: the saved uid stays root's until [`assume`].
    ///
    /// [`assume`]: Credentials::assume
    pub(crate) fn as_daemon_user<T>(&self, open: impl FnOnce() -> T) -> Result<T, Error> {
        let Some(uid) = self.uid.filter(|uid| !uid.is_root() && geteuid().is_root()) else {
            return Ok(open());
        };
        let egid = getegid();
        sys::set_groups(&self.groups).map_err(|e| Error::Setgroups(e as i32))?;
        setegid(self.gid).map_err(|source| Error::Setgid {
            gid: self.gid.as_raw(),
            errno: source as i32,
        })?;
        seteuid(uid).map_err(|source| Error::Setuid {
            uid: uid.as_raw(),
            errno: source as i32,
        })?;
        let opened = open();
        seteuid(Uid::from_raw(0)).map_err(|source| Error::Setuid {
            uid: 0,
            errno: source as i32,
        })?;
        setegid(egid).map_err(|source| Error::Setgid {
            gid: egid.as_raw(),
            errno: source as i32,
        })?;
        Ok(opened)
    }

    /// setgroups, setgid, setuid, in that order, then checks that setuid(0) fails.
    pub(crate) fn assume(&self) -> Result<(), Error> {
        if geteuid().is_root() {
            sys::set_groups(&self.groups).map_err(|e| Error::Setgroups(e as i32))?;
        }
        setgid(self.gid).map_err(|source| Error::Setgid {
            gid: self.gid.as_raw(),
            errno: source as i32,
        })?;
        if let Some(uid) = self.uid {
            setuid(uid).map_err(|source| Error::Setuid {
                uid: uid.as_raw(),
                errno: source as i32,
            })?;
            if !uid.is_root() && setuid(Uid::from_raw(0)).is_ok() {
                return Err(Error::RegainedRoot { uid: uid.as_raw() });
            }
        }
        Ok(())
    }
}

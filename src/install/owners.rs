//! Owners by name (NSS: `getpwnam`/`getgrnam`, so LDAP/sssd users work) or by number.

use super::{Error, ErrorKind, Result};
use nix::unistd::{Group, User};

/// How owners are decided for this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    /// Names are looked up; unknown names are errors.
    Lookup,
    /// `-ignore-passwd`: everything is root's.
    IgnorePasswd,
    /// Dry-activate: names are looked up, but users that a new configuration would create do not
    /// exist yet, so unknown names are not errors (the owner is then unknown and not compared).
    LookupLenient,
    /// `userMode`: everything belongs to the user running the installer; no chown.
    User,
}

/// A resolved owner. `known` is false only under [`Policy::LookupLenient`] for a missing name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner {
    pub uid: u32,
    pub gid: u32,
    pub known: bool,
}

pub(crate) fn user_uid(name: &str) -> Result<Option<u32>> {
    User::from_name(name)
        .map(|u| u.map(|u| u.uid.as_raw()))
        .map_err(|e| {
            Error::new(
                ErrorKind::Owner,
                format!("cannot look up user '{name}': {e}"),
            )
        })
}

pub(crate) fn group_gid(name: &str) -> Result<Option<u32>> {
    Group::from_name(name)
        .map(|g| g.map(|g| g.gid.as_raw()))
        .map_err(|e| {
            Error::new(
                ErrorKind::Owner,
                format!("cannot look up group '{name}': {e}"),
            )
        })
}

/// `what` names the entry for messages (`secret db/pass`).
pub(crate) fn resolve(
    what: &str,
    owner: Option<&str>,
    uid: u32,
    group: Option<&str>,
    gid: u32,
    policy: Policy,
) -> Result<Owner> {
    match policy {
        Policy::IgnorePasswd => {
            return Ok(Owner {
                uid: 0,
                gid: 0,
                known: true,
            })
        }
        Policy::User => {
            return Ok(Owner {
                uid: nix::unistd::geteuid().as_raw(),
                gid: nix::unistd::getegid().as_raw(),
                known: true,
            })
        }
        _ => {}
    }
    let lenient = policy == Policy::LookupLenient;
    let mut known = true;
    // A name looked up with `lookup`; a missing one is 0 and unknown when lenient, else an error.
    let mut id_of = |explicit: u32,
                     name: Option<&str>,
                     lookup: fn(&str) -> Result<Option<u32>>,
                     missing: &dyn Fn(&str) -> String| {
        let Some(name) = name else {
            return Ok(explicit);
        };
        match lookup(name)? {
            Some(id) => Ok(id),
            None if lenient => {
                known = false;
                Ok(0)
            }
            None => Err(Error::new(ErrorKind::Owner, missing(name))),
        }
    };
    let uid = id_of(uid, owner, user_uid, &|name| {
        format!("{what}: owner user '{name}' does not exist (create it, or fix sops.secrets owner)")
    })?;
    let gid = id_of(gid, group, group_gid, &|name| {
        format!("{what}: group '{name}' does not exist (create it, or fix the group option)")
    })?;
    Ok(Owner { uid, gid, known })
}

/// The group of the mount point and generation directories: `keys`, else `nogroup`.
pub(crate) fn keys_gid(policy: Policy) -> Result<u32> {
    match policy {
        Policy::IgnorePasswd => Ok(0),
        Policy::User => Ok(nix::unistd::getegid().as_raw()),
        _ => {
            if let Some(g) = group_gid("keys")? {
                return Ok(g);
            }
            group_gid("nogroup")?.ok_or_else(|| {
                Error::new(
                    ErrorKind::Owner,
                    "failed to look up the 'keys' group (and 'nogroup' does not exist either)",
                )
            })
        }
    }
}

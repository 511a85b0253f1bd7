//! Where a path sits in an organization's items tree, read from the path text without
//! allocating: the permission engine derives the relations of items from it on every check
//! (see `docs/knowledge.md`, "Access").

use crate::key::ITEMS_FOLDER;

/// A path at or below `/orgs/<org>/.nexus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place<'a> {
    /// The organization id, as written in the path.
    pub org: &'a str,
    /// The environment folder's name, if the path is at or below one.
    pub env: Option<&'a str>,
    /// The scope folder's name, if the path is at or below one.
    pub scope: Option<&'a str>,
    /// Whether the path is strictly below the scope folder (a date or kind folder, or an
    /// item).
    pub below_scope: bool,
}

impl<'a> Place<'a> {
    /// The place of `path`, if it is at or below an organization's items folder. Only the
    /// shape is read; whether the names are valid is the caller's business.
    pub fn of(path: &'a str) -> Option<Place<'a>> {
        let rest = path.strip_prefix("/orgs/")?;
        let (org, rest) = rest.split_once('/')?;
        let rest = match rest.strip_prefix(ITEMS_FOLDER)? {
            "" => {
                return Some(Place {
                    org,
                    env: None,
                    scope: None,
                    below_scope: false,
                });
            }
            rest => rest.strip_prefix('/')?,
        };
        let mut parts = rest.splitn(3, '/');
        let env = parts.next().filter(|env| !env.is_empty())?;
        let scope = parts.next();
        let below_scope = parts.next().is_some();
        Some(Place {
            org,
            env: Some(env),
            scope,
            below_scope,
        })
    }

    /// Whether the path is the items folder, an environment folder or a scope folder:
    /// where inheritance of grants stops (nothing above a scope folder reaches items).
    pub fn is_inheritance_root(&self) -> bool {
        !self.below_scope
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_read_from_the_path() {
        assert_eq!(Place::of("/orgs/acme/shared/x"), None);
        assert_eq!(Place::of("/orgs/acme/.nexusx"), None);
        assert_eq!(Place::of("/orgs/acme"), None);
        let root = Place::of("/orgs/acme/.nexus").unwrap();
        assert_eq!((root.org, root.env, root.scope), ("acme", None, None));
        let env = Place::of("/orgs/acme/.nexus/kb").unwrap();
        assert_eq!(
            (env.env, env.scope, env.below_scope),
            (Some("kb"), None, false)
        );
        let scope = Place::of("/orgs/acme/.nexus/kb/u_z1p5").unwrap();
        assert_eq!(
            (scope.scope, scope.below_scope, scope.is_inheritance_root()),
            (Some("u_z1p5"), false, true)
        );
        let item = Place::of("/orgs/acme/.nexus/kb/UNIV/20260103/node/a.json").unwrap();
        assert_eq!(
            (item.org, item.env, item.scope, item.below_scope),
            ("acme", Some("kb"), Some("UNIV"), true)
        );
    }
}

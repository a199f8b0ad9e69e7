//! Which database a target is, whatever name `xtask.toml` gives it. A hosted project is its project ref. A URL
//! names a project when its host is `db.<ref>.<domain>` or its user is `<name>.<ref>` (the pooler's tenant
//! routing); otherwise it is its normalised host, port and database. Where the server lets it be read, its
//! `system_identifier` and the database's oid are added for a server (not for a hosted project, whose ref is
//! authoritative and whose server changes at every platform upgrade): two databases behind one name (a restored
//! copy, a recreated database, a new instance) differ there, and one database behind two host names (`localhost`,
//! `127.0.0.1`) is the same there.

use std::fmt;

/// The name part of an identity; `live` is added where the server tells it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Place {
    Project(String),
    Server { host: String, port: u16, database: String },
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Project(r) => write!(f, "project {r}"),
            Place::Server { host, port, database } => write!(f, "database {host}:{port}/{database}"),
        }
    }
}

/// A target's identity as pinned in `migrations/promotion.lock`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    pub place: Place,
    /// The server's `system_identifier` (and the database's oid), when readable.
    pub live: Option<String>,
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.live {
            Some(live) => write!(f, "{} (server {live})", self.place),
            None => write!(f, "{}", self.place),
        }
    }
}

impl Identity {
    /// The same database as `pinned`: the same place, and the same server wherever both know it.
    pub fn matches(&self, pinned: &Identity) -> bool {
        self.place == pinned.place && (self.live.is_none() || pinned.live.is_none() || self.live == pinned.live)
    }
}

/// Why `current` is refused for target `name` pinned at `pinned`, if it is: the message names both and the way to
/// re-pin after a real move. `via` says how the target is reached (`$PROD_DB_URL`, or the target's project_ref).
pub fn pin_mismatch(name: &str, via: &str, current: &Identity, pinned: &Identity) -> Option<String> {
    (!current.matches(pinned)).then(|| {
        format!(
            "{via} now points at {current}; {name} was promoted at {pinned} (migrations/promotion.lock). Nothing ran. \
             If {name} really moved there, re-pin it: `cargo xtask promote --target {name} --repin \"<why>\"`"
        )
    })
}

/// Two targets that are one database must agree: the same protection and one recorded head (both absent, or
/// equal). `others` are the other targets naming the same place, with their protection and head.
pub fn alias_conflicts(
    name: &str,
    place: &impl fmt::Display,
    (protected, head): (bool, Option<&str>),
    others: &[(&str, bool, Option<&str>)],
) -> Vec<String> {
    let mut out = Vec::new();
    for (other, other_protected, other_head) in others {
        if *other_protected != protected {
            out.push(format!(
                "targets `{name}` and `{other}` are one database ({place}) but only one is protected: set `protected = true` on both (or remove one of them from xtask.toml)"
            ));
        } else if *other_head != head {
            out.push(format!(
                "targets `{name}` and `{other}` are one database ({place}) but record different heads ({} and {}): record the same head with `cargo xtask baseline`, or remove one of them from xtask.toml",
                head.unwrap_or("none"),
                other_head.unwrap_or("none")
            ));
        }
    }
    out
}

/// Why target `name`, seen at `current` (with its protection and head), is refused beside the targets in `pinned`
/// (their pinned identity, protection and head) that were pinned at the same database under another place: the
/// same server and database read live, where both places name a server (a project is its ref, and its server
/// changes at every platform upgrade). The configured places differ, so a promotion through one name would not
/// move the other's head (as it does for one place): refused even when they agree, naming both and the fix.
pub fn host_name_conflicts(
    name: &str,
    current: &Identity,
    (protected, head): (bool, Option<&str>),
    pinned: &[(&str, &Identity, bool, Option<&str>)],
) -> Vec<String> {
    let server = |i: &Identity| matches!(i.place, Place::Server { .. }) && i.live.is_some();
    let same = |i: &Identity| server(current) && server(i) && i.live == current.live && i.place != current.place;
    let mut out = Vec::new();
    for (other, identity, other_protected, other_head) in pinned.iter().filter(|p| same(p.1)) {
        let both = format!(
            "{} as `{name}` names it, {} as `{other}` was pinned in migrations/promotion.lock; server {}",
            current.place,
            identity.place,
            current.live.as_deref().unwrap_or_default()
        );
        let disagree = alias_conflicts(name, &both, (protected, head), &[(other, *other_protected, *other_head)]);
        if disagree.is_empty() {
            out.push(format!(
                "targets `{name}` and `{other}` are one database ({both}) under two host names, so a promotion through one would leave the other's head behind: point both URLs at the same host (or remove one of them from xtask.toml)"
            ));
        }
        out.extend(disagree);
    }
    out
}

/// Whether `text` is a Supabase project ref (20 lower-case letters).
pub fn is_project_ref(text: &str) -> bool {
    text.len() == 20 && text.bytes().all(|b| b.is_ascii_lowercase())
}

/// The place a database URL names.
pub fn of_url(url: &str) -> Option<Place> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed.host_str()?.trim_matches(['[', ']']).to_ascii_lowercase();
    let from_host = host.strip_prefix("db.").and_then(|rest| rest.split('.').next()).filter(|r| is_project_ref(r));
    let user = percent_encoding::percent_decode_str(parsed.username()).decode_utf8_lossy().into_owned();
    let from_user = user.rsplit_once('.').map(|(_, r)| r).filter(|r| is_project_ref(r));
    if let Some(project_ref) = from_host.or(from_user) {
        return Some(Place::Project(project_ref.to_string()));
    }
    let database = parsed.path().trim_start_matches('/');
    let database = if database.is_empty() { "postgres".to_string() } else { database.to_string() };
    Some(Place::Server { host, port: parsed.port().unwrap_or(5432), database })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REF: &str = "srcaoozjkrughebmbvfb";

    #[test]
    fn urls_name_projects_by_host_or_pooler_user_and_servers_otherwise() {
        let project = Some(Place::Project(REF.into()));
        assert_eq!(of_url(&format!("postgresql://postgres:pw@db.{REF}.supabase.co:5432/postgres")), project);
        let pooler = format!("postgresql://postgres.{REF}:pw@aws-0-eu-west-1.pooler.supabase.com:5432/postgres");
        assert_eq!(of_url(&pooler), project);
        assert_eq!(
            of_url("postgresql://u:pw@Example.COM/app?sslmode=require"),
            Some(Place::Server { host: "example.com".into(), port: 5432, database: "app".into() })
        );
        assert_eq!(
            of_url("postgresql://u@127.0.0.1:6000"),
            Some(Place::Server { host: "127.0.0.1".into(), port: 6000, database: "postgres".into() })
        );
    }

    #[test]
    fn a_moved_target_is_refused_naming_both_databases() {
        let pinned = Identity { place: Place::Project(REF.into()), live: None };
        let other = Identity { place: Place::Project("bbbbbbbbbbbbbbbbbbbb".into()), live: None };
        assert_eq!(
            pin_mismatch("prod", "$PROD_DB_URL", &other, &pinned).unwrap(),
            format!(
                "$PROD_DB_URL now points at project bbbbbbbbbbbbbbbbbbbb; prod was promoted at project {REF} (migrations/promotion.lock). Nothing ran. If prod really moved there, re-pin it: `cargo xtask promote --target prod --repin \"<why>\"`"
            )
        );
        assert_eq!(pin_mismatch("prod", "$PROD_DB_URL", &pinned, &pinned), None);
    }

    #[test]
    fn two_names_for_one_database_must_agree() {
        let place = Place::Project(REF.into());
        let head = Some("20260512220528");
        assert!(alias_conflicts("prod", &place, (true, head), &[("alias", true, head)]).is_empty());
        let unprotected = alias_conflicts("alias", &place, (false, None), &[("prod", true, head)]);
        assert_eq!(unprotected.len(), 1);
        assert!(unprotected[0].contains(
            "targets `alias` and `prod` are one database (project srcaoozjkrughebmbvfb) but only one is protected"
        ));
        let heads = alias_conflicts("alias", &place, (true, None), &[("prod", true, head)]);
        assert!(heads[0].contains("record different heads (none and 20260512220528)"), "{heads:?}");
    }

    #[test]
    fn one_server_under_two_host_names_is_one_database() {
        let server = |host: &str, live: &str| Identity {
            place: Place::Server { host: host.into(), port: 5432, database: "d".into() },
            live: Some(live.into()),
        };
        let current = server("localhost", "1/5");
        let staging = server("127.0.0.1", "1/5");
        let elsewhere = server("127.0.0.1", "2/5");
        let head = Some("20260512220528");
        let conflicts = host_name_conflicts("twin", &current, (false, None), &[("staging", &staging, false, head)]);
        assert_eq!(
            conflicts,
            [
                "targets `twin` and `staging` are one database (database localhost:5432/d as `twin` names it, database 127.0.0.1:5432/d as `staging` was pinned in migrations/promotion.lock; server 1/5) but record different heads (none and 20260512220528): record the same head with `cargo xtask baseline`, or remove one of them from xtask.toml"
            ]
        );
        let agreeing = host_name_conflicts("twin", &current, (false, head), &[("staging", &staging, false, head)]);
        assert!(agreeing[0].ends_with("under two host names, so a promotion through one would leave the other's head behind: point both URLs at the same host (or remove one of them from xtask.toml)"), "{agreeing:?}");
        assert!(host_name_conflicts("twin", &current, (false, None), &[("other", &elsewhere, false, head)]).is_empty());
        // A project is its ref: the server behind it is not compared.
        let project = Identity { place: Place::Project(REF.into()), live: Some("1/5".into()) };
        assert!(host_name_conflicts("prod", &project, (true, None), &[("staging", &staging, false, head)]).is_empty());
    }

    #[test]
    fn a_live_identity_tells_two_servers_of_one_name_apart() {
        let place = Place::Server { host: "h".into(), port: 5432, database: "d".into() };
        let a = Identity { place: place.clone(), live: Some("1/5".into()) };
        assert!(a.matches(&Identity { place: place.clone(), live: None }), "unknown on one side: the name decides");
        assert!(!a.matches(&Identity { place: place.clone(), live: Some("2/5".into()) }));
        assert!(!a.matches(&Identity { place: Place::Project(REF.into()), live: Some("1/5".into()) }));
        assert_eq!(a.to_string(), "database h:5432/d (server 1/5)");
    }
}

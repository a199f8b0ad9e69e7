//! `platform-refuses`: statements the hosted platform refuses to `postgres`, the role the CLI pushes as, which
//! is no superuser there. Decided from the parse alone, against the role model in `domain::platform`: a
//! managed object `postgres` does not own, a new object in a restricted schema, what needs a superuser, a
//! reserved role or membership. Works on any ordered slice of files (a batch, or the applied history for the
//! rehearsal's note): an object an earlier file of the slice created belongs to `postgres` and stays its own.

use std::collections::BTreeSet;

use crate::domain::findings::{Code, Finding, Pos, Severity};
use crate::domain::lint::sql::platform::{Act, Superuser};
use crate::domain::lint::sql::{Analysis, Fact};
use crate::domain::platform::{self as model, Supautils};

/// The kinds of refusal, as the boundary in docs/design.md names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// Needs ownership of a managed object.
    Ownership,
    /// A new object in a restricted schema.
    RestrictedSchema,
    /// Needs a superuser.
    Superuser,
    /// Changes a reserved role or grants a reserved membership.
    ReservedRole,
}

impl Class {
    /// The class as `check --format json` names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Ownership => "ownership",
            Class::RestrictedSchema => "restricted-schema",
            Class::Superuser => "superuser",
            Class::ReservedRole => "reserved-role",
        }
    }
}

/// One statement the platform would refuse.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    pub file: String,
    #[serde(flatten)]
    pub pos: Pos,
    pub class: Class,
    /// The object, role or extension refused (`auth.users`, `anon`), or the statement (`alter system`).
    pub object: String,
    /// The platform's reason, in words.
    pub reason: String,
    /// What to do instead.
    pub fix: &'static str,
}

/// Extensions some platform image makes privileged although `UNSAFE_EXTENSIONS` lists them (PostgreSQL 17's
/// `supautils.privileged_extensions`), or that are trusted (`lo`): `postgres` can create them, so no finding.
const CREATABLE_ANYWAY: &[&str] = &["pg_buffercache", "pg_prewarm", "pgstattuple", "lo"];

/// Untrusted procedural languages shipped as extensions: no platform lists them as privileged.
const UNTRUSTED_LANGUAGE_EXTENSIONS: &[&str] = &["plpython3u", "plpythonu", "plperlu", "pltclu"];

const FIX_OWNERSHIP: &str = "leave the platform's objects as they are: keep app objects in `public` or a schema of your own (a profile table with a foreign key to auth.users, a trigger on auth.users calling a function in public); policies and dropping triggers on the tables supautils lists are allowed";
const FIX_SCHEMA: &str = "create it in `public` or a schema of your own; for an auth hook, create the function in `public` and grant execute on it to supabase_auth_admin";
const FIX_SUPERUSER: &str = "remove it from the migration: the platform does not let `postgres` do this; ask for what the statement needs through the dashboard or Supabase support";
const FIX_LANGUAGE: &str = "write the function in a trusted language (plpgsql, sql)";
const FIX_EXTENSION: &str = "remove it from the migration, or use an extension the platform lists as privileged";
const FIX_ROLE: &str = "create a role of your own for the app and grant it what it needs; of the platform's roles only the settings of anon, authenticated, authenticator and service_role may change (`alter role anon set ...`)";
const FIX_MEMBERSHIP: &str = "grant the specific privileges the role needs instead of the membership";

/// Every statement of `files` (in version order: rel path, analysis) the platform would refuse, judged by
/// `supautils`' lists: the shipped ones, or those a `platform-baseline` captured from the target.
///
/// The parse keeps role and membership statements by the shipped lists (`sql::platform`): a captured list
/// can free a role the shipped one reserves, not reserve one it does not.
pub fn refusals<'a>(files: impl IntoIterator<Item = (&'a str, &'a Analysis)>, supautils: &Supautils) -> Vec<Refusal> {
    let mut created: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for (file, analysis) in files {
        for (pos, fact) in &analysis.facts {
            let refused = match fact {
                Fact::Platform(act) => judge(act, &mut created, supautils),
                Fact::CreateExtension(name) => extension(name, supautils),
                _ => None,
            };
            out.extend(refused.map(|(class, object, reason, fix)| Refusal {
                file: file.to_string(),
                pos: *pos,
                class,
                object,
                reason,
                fix,
            }));
        }
    }
    out
}

/// `check`'s findings for refusals (an error each: the push would fail on it).
pub fn findings(refusals: &[Refusal]) -> Vec<Finding> {
    refusals
        .iter()
        .map(|r| Finding::new(Code::PlatformRefuses, Severity::Error, &r.file, r.reason.clone()).at(r.pos).fix(r.fix))
        .collect()
}

type Judged = Option<(Class, String, String, &'static str)>;

fn judge(act: &Act, created: &mut BTreeSet<String>, supautils: &Supautils) -> Judged {
    match act {
        Act::Create { stmt, object, .. } => {
            created.insert(object.clone());
            let schema = schema_of(object);
            let reason = format!(
                "`{stmt}` of `{object}`: since April 2025 the platform refuses new objects in schema `{schema}` to `postgres` (it has no CREATE there): it fails with \"permission denied for schema {schema}\""
            );
            Some((Class::RestrictedSchema, object.clone(), reason, FIX_SCHEMA))
        }
        Act::Owner { stmt, what, object } if !created.contains(object) => {
            Some((Class::Ownership, object.clone(), not_owner(stmt, what, object, supautils), FIX_OWNERSHIP))
        }
        Act::Policy { stmt, table } => granted(stmt, table, &supautils.policy_grants, "policy_grants", created),
        Act::DropTrigger { table } => {
            granted("drop trigger", table, &supautils.drop_trigger_grants, "drop_trigger_grants", created)
        }
        Act::Superuser(s) => Some(superuser(s)),
        Act::Role { role, settings_only: true, .. } if model::RESERVED_ROLES_WITH_SETTINGS.contains(&role.as_str()) => {
            None
        }
        Act::Role { role, .. } if !listed(&supautils.reserved_roles, role) => None,
        Act::Role { stmt, role, .. } => {
            let what = if model::RESERVED_ROLES_WITH_SETTINGS.contains(&role.as_str()) {
                "`postgres` may change its settings (`alter role ... set`), nothing else"
            } else {
                "`postgres` may not create, alter, drop or rename it"
            };
            let reason = format!("`{stmt} {role}`: `{role}` is reserved by supautils (reserved_roles): {what}");
            Some((Class::ReservedRole, role.clone(), reason, FIX_ROLE))
        }
        Act::Membership { role } if !listed(&supautils.reserved_memberships, role) => None,
        Act::Membership { role } => {
            let reason = format!(
                "`grant {role} to ...`: supautils reserves membership in `{role}` (reserved_memberships): `postgres` may grant it to nobody"
            );
            Some((Class::ReservedRole, role.clone(), reason, FIX_MEMBERSHIP))
        }
        Act::Owner { .. } => None,
    }
}

/// A policy or trigger statement on a table `postgres` does not own: allowed when supautils lists the table.
fn granted(stmt: &str, table: &str, list: &[String], setting: &str, created: &BTreeSet<String>) -> Judged {
    if listed(list, table) || created.contains(table) {
        return None;
    }
    let (_, name) = model::split(table);
    let reason = format!(
        "on the hosted platform `postgres` does not own `{table}` ({owner} does) and supautils' {setting} do not list it: `{stmt}` on it fails with \"must be owner of table {name}\"",
        owner = owner_of(table, "table"),
    );
    Some((Class::Ownership, table.to_string(), reason, FIX_OWNERSHIP))
}

fn not_owner(stmt: &str, what: &str, object: &str, supautils: &Supautils) -> String {
    let name = if what == "schema" { object } else { model::split(object).1 };
    let owner = owner_of(object, what);
    let mut reason = format!(
        "on the hosted platform `postgres` does not own `{object}` ({owner} does): `{stmt}` on it fails with \"must be owner of {what} {name}\""
    );
    if listed(&supautils.policy_grants, object) {
        reason.push_str("; supautils lets `postgres` manage policies and drop triggers on it, nothing else");
    }
    reason
}

/// Who owns a managed object: the service that made it (the schemas themselves are the bootstrap superuser's).
fn owner_of(object: &str, what: &str) -> &'static str {
    if what == "schema" {
        return model::BOOTSTRAP_SUPERUSER;
    }
    match schema_of(object) {
        "auth" => "supabase_auth_admin",
        "storage" => "supabase_storage_admin",
        "realtime" => "the Realtime service's role",
        _ => model::BOOTSTRAP_SUPERUSER,
    }
}

fn listed(list: &[String], name: &str) -> bool {
    list.iter().any(|entry| entry == name)
}

fn schema_of(object: &str) -> &str {
    object.split_once('.').map_or(object, |(schema, _)| schema)
}

fn superuser(s: &Superuser) -> (Class, String, String, &'static str) {
    let not_one = "on the platform `postgres` is not one";
    let (object, reason, fix) = match s {
        Superuser::AlterSystem => ("alter system".to_string(), format!("`alter system` needs a superuser; {not_one}"), FIX_SUPERUSER),
        Superuser::CopyProgram => (
            "copy ... program".to_string(),
            "`copy ... program` needs a superuser or pg_execute_server_program; on the platform `postgres` is neither (supautils reserves that membership)".to_string(),
            "load the data with INSERT, or from the client outside migrations (psql's `\\copy`)",
        ),
        Superuser::CopyFile => (
            "copy ... file".to_string(),
            "`copy` to or from a file on the server needs a superuser or pg_read_server_files/pg_write_server_files; on the platform `postgres` is neither (supautils reserves those memberships)".to_string(),
            "load the data with INSERT, or from the client outside migrations (psql's `\\copy`)",
        ),
        Superuser::CreateLanguage(language) => (
            language.clone(),
            format!("`create language {language}` needs a superuser; {not_one}"),
            FIX_LANGUAGE,
        ),
        Superuser::UntrustedLanguage { stmt, language } => (
            language.clone(),
            format!("`{stmt}` in language `{language}` (untrusted) needs a superuser; {not_one}"),
            FIX_LANGUAGE,
        ),
        Superuser::Load(library) => (
            library.clone(),
            format!("`load '{library}'` of a library outside $libdir/plugins needs a superuser; {not_one}"),
            "remove it: the platform preloads the libraries it supports",
        ),
        Superuser::SuperuserRole { stmt, role } => (
            role.clone(),
            format!("`{stmt} {role} ... superuser` needs a superuser, and supautils refuses it to `postgres`"),
            FIX_ROLE,
        ),
    };
    (Class::Superuser, object, reason, fix)
}

/// An extension `postgres` cannot create: one the platform leaves out of the privileged list as unsafe, or an
/// untrusted language. Anything else passes: without the server's control files, trust cannot be decided.
fn extension(name: &str, supautils: &Supautils) -> Judged {
    let unsafe_one = model::UNSAFE_EXTENSIONS.contains(&name) && !CREATABLE_ANYWAY.contains(&name);
    let language = UNTRUSTED_LANGUAGE_EXTENSIONS.contains(&name);
    if listed(&supautils.privileged_extensions, name) || !(unsafe_one || language) {
        return None;
    }
    let why = if language {
        "is an untrusted language, which no platform lists in supautils' privileged extensions"
    } else {
        "is left out of supautils' privileged extensions (\"may be unsafe\") and is untrusted"
    };
    let reason = format!("`create extension {name}`: `{name}` {why}, so `postgres` cannot create it on the platform");
    Some((Class::Superuser, name.to_string(), reason, FIX_EXTENSION))
}

#[cfg(test)]
mod tests;

//! The committed platform baseline's format (`docs/database/platform/baseline.sql`): a header naming the target
//! it was captured from and the digest of the body, so a hand edit is refused; a `--> format N` chunk saying
//! what the capture records; then `--> kind name` chunks. Pure.

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::domain::history::migrations;
use crate::domain::platform::{BOOTSTRAP_SUPERUSER, PRIVILEGED_ROLE, SupautilsSettings};

/// What a capture records. 1 (no `--> format` chunk, an older xtask's): roles without `postgres`, no owners,
/// grants without revokes. 2: every role with all its attributes, memberships with their admin option, owners,
/// grants that converge, the default privileges of `postgres` and `supabase_admin`, supautils' settings.
pub const FORMAT: u32 = 2;

/// The chunk that opens a capture's body, naming its format.
pub fn format_chunk() -> String {
    format!(
        "--> format {FORMAT}\n-- roles, memberships, owners, grants, default privileges and supautils' settings included\n\n"
    )
}

/// The format of a captured body: 1 when it has no `--> format` chunk.
pub fn format_of(body: &str) -> u32 {
    chunks(body).find_map(|(header, _)| header.strip_prefix("format ")?.trim().parse().ok()).unwrap_or(1)
}

/// The note for a committed file captured by an older xtask (it still applies, without the target's roles,
/// owners and grants): which file, and the command that takes it again.
pub fn outdated_note(text: &str, body: &str, rel: &str) -> Option<String> {
    let format = format_of(body);
    (format < FORMAT).then(|| {
        let target = text
            .lines()
            .find_map(|l| l.split_once("--target ")?.1.split('`').next())
            .map_or("<target>".to_string(), |t| t.trim().to_string());
        format!(
            "note: {rel} was captured by an older xtask (format {format}): it lacks the target's roles, owners and grants, which local databases then take from the shipped defaults; take it again with `cargo xtask platform-baseline --target {target}` and review the diff"
        )
    })
}

fn digest(body: &str) -> String {
    migrations::hex(&Sha256::digest(body.as_bytes()))
}

/// The committed file: a header naming where it came from and the digest of the body.
pub fn render(target: &str, body: &str) -> String {
    format!(
        "-- The platform-managed schemas of `{target}`, captured by `cargo xtask platform-baseline --target {target}`.\n\
         -- Local databases start from this file. Do not edit: refresh it with that command and review the diff.\n\
         -- digest: {}\n\n{body}",
        digest(body)
    )
}

/// The body of a committed file and its digest line; a hand edit is refused.
pub fn parse(text: &str, rel: &str) -> anyhow::Result<(String, String)> {
    let Some(line) = text.lines().find(|l| l.starts_with("-- digest: ")) else {
        bail!("{rel} has no digest line; regenerate it with `cargo xtask platform-baseline --target <target>`");
    };
    let recorded = line.trim_start_matches("-- digest: ").trim().to_string();
    let body = text.split_once(&format!("{line}\n\n")).map(|(_, b)| b.to_string()).unwrap_or_default();
    if digest(&body) != recorded {
        bail!(
            "{rel} was edited by hand (its digest does not match); restore it with `git checkout -- {rel}` or regenerate it with `cargo xtask platform-baseline --target <target>`"
        );
    }
    Ok((body, recorded))
}

/// The chunks of a captured body: each `--> kind name` header (without `--> `) and what follows it.
pub fn chunks(body: &str) -> impl Iterator<Item = (&str, &str)> {
    body.split("\n--> ").filter_map(|chunk| chunk.trim_start_matches("--> ").split_once('\n'))
}

/// Whether a chunk is a statement to apply: not the format marker, a stand-in's script or a recorded setting.
pub fn is_statement(header: &str) -> bool {
    !(is_stand_in(header) || header.starts_with("format ") || header.starts_with("supautils "))
}

/// When a chunk is applied: roles and memberships before the objects that name them, owners, grants and
/// default privileges after the objects they are on.
fn phase(header: &str) -> u8 {
    match header.split_once(' ').map_or(header, |(kind, _)| kind) {
        "role" | "membership" => 0,
        "owner" | "grant" | "default-privileges" => 2,
        _ => 1,
    }
}

/// The statements of a captured body in the order they are applied (within a phase, the file's order).
pub fn statements(body: &str) -> Vec<(&str, &str)> {
    let mut found: Vec<(&str, &str)> = chunks(body).filter(|(header, _)| is_statement(header)).collect();
    found.sort_by_key(|(header, _)| phase(header));
    found
}

/// A statement as it may run here. A `role` chunk's attributes are the target's but for SUPERUSER: the
/// bootstrap superuser stays one, `postgres` never becomes one (it is none on the platform, and a plain
/// target's superuser `postgres` is rehearsed otherwise), and `admin`, the role applying the baseline, keeps
/// its own SUPERUSER and LOGIN, since a session that took them from itself would lock the xtask out.
pub fn guard_role(header: &str, statement: &str, admin: &str) -> String {
    let Some(role) = header.strip_prefix("role ") else { return statement.to_string() };
    let role = role.trim();
    let keep = |attr: &str| -> Option<String> {
        let superuser = matches!(attr, "superuser" | "nosuperuser");
        match () {
            _ if role == admin && (superuser || matches!(attr, "login" | "nologin")) => None,
            _ if superuser && role == BOOTSTRAP_SUPERUSER => Some("superuser".to_string()),
            _ if superuser && role == PRIVILEGED_ROLE => Some("nosuperuser".to_string()),
            _ => Some(attr.to_string()),
        }
    };
    statement
        .lines()
        .filter_map(|line| {
            let Some((alter, attrs)) = line.strip_prefix("alter role ").and_then(|rest| rest.rsplit_once(" with "))
            else {
                return Some(line.to_string());
            };
            let attrs: Vec<String> = attrs.trim_end_matches(';').split_whitespace().filter_map(keep).collect();
            (!attrs.is_empty()).then(|| format!("alter role {alter} with {};", attrs.join(" ")))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// supautils' settings as the captured target has them (`--> supautils <name>` chunks): the grant settings'
/// JSON (`{"postgres": ["auth.users", ...]}`) read for `postgres`, the others as comma-separated names.
pub fn supautils(body: &str) -> anyhow::Result<SupautilsSettings> {
    let mut settings = SupautilsSettings::default();
    for (header, value) in chunks(body) {
        let Some(name) = header.strip_prefix("supautils ") else { continue };
        let value = value.trim();
        match name.trim() {
            "policy_grants" => settings.policy_grants = Some(grants_of(value, "policy_grants")?),
            "drop_trigger_grants" => settings.drop_trigger_grants = Some(grants_of(value, "drop_trigger_grants")?),
            "privileged_extensions" => settings.privileged_extensions = Some(names(value)),
            "reserved_roles" => settings.reserved_roles = Some(names(value)),
            "reserved_memberships" => settings.reserved_memberships = Some(names(value)),
            _ => {}
        }
    }
    Ok(settings)
}

/// A grant setting's tables for `postgres`: none when it names other roles only, or is empty.
fn grants_of(json: &str, setting: &str) -> anyhow::Result<Vec<String>> {
    if json.is_empty() {
        return Ok(Vec::new());
    }
    let map: std::collections::BTreeMap<String, Vec<String>> = serde_json::from_str(json)
        .with_context(|| format!("supautils.{setting} is not a JSON object of role to tables: {json}"))?;
    Ok(map.get(PRIVILEGED_ROLE).cloned().unwrap_or_default())
}

/// A comma-separated list, without supautils' `*` mark on a reserved role (its settings may be changed).
fn names(list: &str) -> Vec<String> {
    list.split(',').map(|n| n.trim().trim_end_matches('*').to_string()).filter(|n| !n.is_empty()).collect()
}

/// Whether a chunk is a stand-in's script (`--> stand-in <name> <version>`): captured for the stand-ins only,
/// never applied as a statement.
pub fn is_stand_in(header: &str) -> bool {
    header.starts_with("stand-in ")
}

/// An extension's members as the capture read them, as the script of a stand-in for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedStandIn {
    pub name: String,
    /// Its version on the target.
    pub version: String,
    /// The schema the platform put it in (its `-- schema:` line).
    pub schema: Option<String>,
    pub script: String,
}

impl CapturedStandIn {
    /// Its version here: the target's, `-captured-` and the start of the script's digest, so two captures never
    /// share a version and a hand-written stand-in of the target's version is never overwritten.
    pub fn local_version(&self) -> String {
        format!("{}-captured-{}", self.version, &digest(&self.script)[..8])
    }

    /// Whether its name, versions and schema can go into file names and a control file as they are, and
    /// `CREATE EXTENSION` takes them (no `--`, no leading or trailing `-`, no quotes, slashes or spaces).
    pub fn is_valid(&self) -> bool {
        [&self.name, &self.version].into_iter().chain(&self.schema).all(|word| plain_name(word))
    }
}

fn plain_name(word: &str) -> bool {
    !word.is_empty()
        && !word.contains("--")
        && !word.starts_with('-')
        && !word.ends_with('-')
        && !word.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '\\' | '\'' | '"'))
}

/// The stand-in scripts a captured body holds.
pub fn stand_ins(body: &str) -> Vec<CapturedStandIn> {
    chunks(body)
        .filter_map(|(header, text)| {
            let (name, version) = header.strip_prefix("stand-in ")?.trim().split_once(' ')?;
            let script = text.trim_end().to_string();
            let schema = script.lines().find_map(|l| l.strip_prefix("-- schema: ")).map(|s| s.trim().to_string());
            Some(CapturedStandIn { name: name.to_string(), version: version.trim().to_string(), schema, script })
        })
        .collect()
}

/// The extension an `extension <name>` header names, its identifier quotes undone.
pub fn extension_of(header: &str) -> Option<String> {
    let name = header.strip_prefix("extension ")?.trim();
    Some(match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => name.to_string(),
    })
}

/// An extension chunk's statement made to create `version` (a captured stand-in's) instead of the default.
pub fn pin_version(statement: &str, version: &str) -> String {
    statement
        .lines()
        .map(|line| match line.strip_suffix(';') {
            Some(create) if create.starts_with("create extension if not exists ") => {
                format!("{create} version '{version}';")
            }
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "--> role anon\ncreate role anon;\n\n\
        --> extension \"uuid-ossp\"\n-- version 1.1 on the target\ncreate extension if not exists \"uuid-ossp\" with schema extensions;\n\n\
        --> stand-in uuid-ossp 1.1\n-- schema: extensions\nset local check_function_bodies = off;\ncreate function extensions.f() returns int language plpgsql as $stub$ begin return null; end $stub$;\n\n\
        --> stand-in pg_cron 1.6\n-- schema: pg_catalog\nset local check_function_bodies = off;\n";

    #[test]
    fn reads_the_stand_in_scripts_of_a_captured_body() {
        let found = stand_ins(BODY);
        let names: Vec<(&str, &str, Option<&str>)> =
            found.iter().map(|s| (s.name.as_str(), s.version.as_str(), s.schema.as_deref())).collect();
        assert_eq!(names, [("uuid-ossp", "1.1", Some("extensions")), ("pg_cron", "1.6", Some("pg_catalog"))]);
        assert!(found[0].script.starts_with("-- schema: extensions\nset local"));
        assert!(found[0].script.ends_with("$stub$;"), "trailing blank lines are not part of the script");
        let headers: Vec<&str> = chunks(BODY).map(|(h, _)| h).filter(|h| !is_stand_in(h)).collect();
        assert_eq!(headers, ["role anon", "extension \"uuid-ossp\""]);
    }

    #[test]
    fn a_captured_version_is_its_own_per_script() {
        let one = &stand_ins(BODY)[1];
        let version = one.local_version();
        assert!(version.starts_with("1.6-captured-") && version.len() == "1.6-captured-".len() + 8, "{version}");
        let other = CapturedStandIn { script: format!("{}\nselect 1;", one.script), ..one.clone() };
        assert_ne!(other.local_version(), version);
        assert_eq!(one.clone().local_version(), version, "the same script, the same version");
    }

    #[test]
    fn refuses_names_a_control_file_or_create_extension_would_misread() {
        let ok =
            CapturedStandIn { name: "pg_net".into(), version: "0.14.0".into(), schema: None, script: String::new() };
        assert!(ok.is_valid());
        for (name, version) in
            [("a--b", "1"), ("-a", "1"), ("a", "1-"), ("a", "1--2"), ("a/b", "1"), ("a", "1'"), ("a", "")]
        {
            let bad = CapturedStandIn { name: name.into(), version: version.into(), ..ok.clone() };
            assert!(!bad.is_valid(), "{name} {version}");
        }
        assert!(!CapturedStandIn { schema: Some("it's".into()), ..ok }.is_valid());
    }

    const ROLES: &str = "--> format 2\n-- roles\n\n\
        --> grant table auth.users\ngrant select on table auth.users to anon;\n\n\
        --> owner table auth.users\nalter table auth.users owner to supabase_auth_admin;\n\n\
        --> role postgres\ndo $r$ begin if not exists (select 1 from pg_roles where rolname = 'postgres') then create role postgres; end if; end $r$;\nalter role postgres with superuser createdb createrole replication bypassrls inherit login;\n\n\
        --> table auth.users\ncreate table if not exists auth.users (id uuid);\n\n\
        --> membership anon to postgres\ngrant anon to postgres with admin option;\n\n\
        --> supautils policy_grants\n{\"postgres\": [\"auth.users\", \"storage.objects\"], \"other\": [\"public.t\"]}\n\n\
        --> supautils reserved_roles\nsupabase_admin, anon*, \n\n\
        --> default-privileges postgres in public on tables\nalter default privileges for role postgres in schema public grant all on tables to anon;\n";

    #[test]
    fn applies_roles_first_and_owners_and_grants_after_the_objects() {
        let order: Vec<&str> = statements(ROLES).into_iter().map(|(h, _)| h).collect();
        expect_test::expect![[r#"
            [
                "role postgres",
                "membership anon to postgres",
                "table auth.users",
                "grant table auth.users",
                "owner table auth.users",
                "default-privileges postgres in public on tables",
            ]
        "#]]
        .assert_debug_eq(&order);
        assert_eq!(format_of(ROLES), 2);
        assert_eq!(format_of(BODY), 1, "a body without the marker is an older xtask's");
        assert!(format_chunk().starts_with("--> format 2\n"));
        assert_eq!(format_of(&format!("{}{BODY}", format_chunk())), FORMAT);
    }

    #[test]
    fn a_captured_role_never_changes_who_is_a_superuser_here() {
        let role = |name: &str, attrs: &str| {
            format!("do $r$ begin create role {name}; end $r$;\nalter role {name} with {attrs} createdb login;")
        };
        let guarded = |name: &str, attrs: &str, admin: &str| {
            guard_role(&format!("role {name}"), &role(name, attrs), admin).lines().last().unwrap_or("").to_string()
        };
        expect_test::expect![[r#"
            [
                "alter role postgres with nosuperuser createdb login;",
                "alter role supabase_admin with superuser createdb login;",
                "alter role supabase_admin with createdb;",
                "alter role postgres with createdb;",
                "alter role anon with superuser createdb login;",
                "alter role anon with nosuperuser createdb login;",
            ]
        "#]]
        .assert_debug_eq(&[
            guarded("postgres", "superuser", "supabase_admin"),
            guarded("supabase_admin", "nosuperuser", "someone"),
            guarded("supabase_admin", "nosuperuser", "supabase_admin"),
            guarded("postgres", "nosuperuser", "postgres"),
            guarded("anon", "superuser", "supabase_admin"),
            guarded("anon", "nosuperuser", "supabase_admin"),
        ]);
        let statement = "grant anon to postgres;";
        assert_eq!(guard_role("membership anon to postgres", statement, "postgres"), statement);
        let only = "alter role postgres with superuser login;";
        assert_eq!(guard_role("role postgres", only, "postgres"), "", "nothing left to alter");
    }

    #[test]
    fn reads_supautils_settings_for_postgres() {
        let settings = supautils(ROLES).unwrap();
        expect_test::expect![[r#"
            SupautilsSettings {
                policy_grants: Some(
                    [
                        "auth.users",
                        "storage.objects",
                    ],
                ),
                drop_trigger_grants: None,
                privileged_extensions: None,
                reserved_roles: Some(
                    [
                        "supabase_admin",
                        "anon",
                    ],
                ),
                reserved_memberships: None,
            }
        "#]]
        .assert_debug_eq(&settings);
        let merged = crate::domain::platform::Supautils::shipped().overridden_by(&settings);
        assert_eq!(merged.policy_grants, ["auth.users", "storage.objects"], "the target's list wins");
        assert_eq!(
            merged.drop_trigger_grants.len(),
            crate::domain::platform::DROP_TRIGGER_GRANTS.len(),
            "absent: shipped"
        );
        assert_eq!(supautils(BODY).unwrap(), SupautilsSettings::default(), "a plain PostgreSQL has none");
        let empty = supautils("--> supautils drop_trigger_grants\n\n").unwrap();
        assert_eq!(empty.drop_trigger_grants, Some(Vec::new()), "set but empty: no table");
        let bad = supautils("--> supautils policy_grants\n[\"auth.users\"]\n").unwrap_err();
        assert!(format!("{bad:#}").contains("supautils.policy_grants is not a JSON object"), "{bad:#}");
        assert!(!is_statement("supautils policy_grants") && !is_statement("format 2") && is_statement("role anon"));
    }

    #[test]
    fn an_older_capture_is_named_with_the_command_that_takes_it_again() {
        let text = render("prod", BODY);
        let (body, _) = parse(&text, "docs/database/platform/baseline.sql").unwrap();
        let note = outdated_note(&text, &body, "docs/database/platform/baseline.sql").unwrap();
        expect_test::expect!["note: docs/database/platform/baseline.sql was captured by an older xtask (format 1): it lacks the target's roles, owners and grants, which local databases then take from the shipped defaults; take it again with `cargo xtask platform-baseline --target prod` and review the diff"]
            .assert_eq(&note);
        let current = render("prod", ROLES);
        assert_eq!(outdated_note(&current, ROLES, "x"), None);
    }

    #[test]
    fn pins_the_version_an_extension_statement_creates() {
        let statement = "-- version 1.1 on the target\ncreate schema if not exists graphql;\ncreate extension if not exists pg_graphql with schema graphql;";
        assert_eq!(
            pin_version(statement, "1.1-captured-0123abcd"),
            "-- version 1.1 on the target\ncreate schema if not exists graphql;\ncreate extension if not exists pg_graphql with schema graphql version '1.1-captured-0123abcd';"
        );
        assert_eq!(extension_of("extension \"uuid-ossp\"").as_deref(), Some("uuid-ossp"));
        assert_eq!(extension_of("extension pg_net").as_deref(), Some("pg_net"));
        assert_eq!(extension_of("schema net"), None);
    }
}

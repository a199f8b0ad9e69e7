//! The committed platform baseline's format (`docs/database/platform/baseline.sql`): a header naming the target
//! it was captured from and the digest of the body, so a hand edit is refused. Pure.

use anyhow::bail;
use sha2::{Digest, Sha256};

use crate::domain::history::migrations;

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

//! Stand-in extensions: for the platform extensions no registry has at the platform's version (pg_net, http,
//! wrappers, pg_graphql, pgsodium, pg_cron), control files and scripts of the xtask's own (`xtask/extensions/`)
//! that reproduce their schema objects, so a history that creates and calls them replays. They are added to
//! the owned server trees, never over a real extension, and every report lists the ones a database holds:
//! a stand-in's control file comment starts with `stand-in`.
//!
//! A captured platform baseline brings stand-ins of its own (`install_captured`): the target's extensions'
//! members as `platform-baseline` read them, each installed as a version of its own, `<version>-captured-<digest>`,
//! where the tree has no real extension of that name. They take precedence over the hand-written ones, which are
//! written from the extensions' documented interfaces and serve where nothing was captured.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context;

use crate::domain::schema::platform_file::CapturedStandIn;
use crate::edges::os::fsutil;

/// Every stand-in file: its name in the tree's extension folder, and its text.
const FILES: &[(&str, &str)] = &[
    ("http--1.6.sql", include_str!("../../../extensions/http--1.6.sql")),
    ("http.control", include_str!("../../../extensions/http.control")),
    ("pg_cron--1.6.4.sql", include_str!("../../../extensions/pg_cron--1.6.4.sql")),
    ("pg_cron.control", include_str!("../../../extensions/pg_cron.control")),
    ("pg_graphql--1.6.2.sql", include_str!("../../../extensions/pg_graphql--1.6.2.sql")),
    ("pg_graphql.control", include_str!("../../../extensions/pg_graphql.control")),
    ("pg_net--0.20.4.sql", include_str!("../../../extensions/pg_net--0.20.4.sql")),
    ("pg_net.control", include_str!("../../../extensions/pg_net.control")),
    ("pgsodium--3.1.8.sql", include_str!("../../../extensions/pgsodium--3.1.8.sql")),
    ("pgsodium.control", include_str!("../../../extensions/pgsodium.control")),
    ("wrappers--0.6.3.sql", include_str!("../../../extensions/wrappers--0.6.3.sql")),
    ("wrappers.control", include_str!("../../../extensions/wrappers.control")),
];

/// Adds the stand-ins to the extension folder `dir` of an owned tree, leaving alone an extension whose real
/// control file is there. Idempotent: a file already as written is not touched.
pub fn install(dir: &Path) -> anyhow::Result<()> {
    for (name, text) in FILES {
        let path = dir.join(name);
        let extension = name.split(['.', '-']).next().unwrap_or(name);
        let control = dir.join(format!("{extension}.control"));
        let real = std::fs::read_to_string(&control).is_ok_and(|c| !is_stand_in(&c));
        if real || std::fs::read(&path).is_ok_and(|old| old == text.as_bytes()) {
            continue;
        }
        fsutil::write_atomic(&path, text.as_bytes()).with_context(|| format!("adding stand-in {name}"))?;
    }
    Ok(())
}

/// Marks the tree's real extensions that the platform lets `postgres` create (supautils'
/// `privileged_extensions`, which creates them as the bootstrap superuser) as trusted: a vanilla server then runs
/// their scripts as the bootstrap superuser (`supabase_admin` here) when `postgres` creates them. Idempotent;
/// a file that already says `trusted` is left as it is.
pub fn trust_privileged(dir: &Path) -> anyhow::Result<()> {
    for name in crate::domain::platform::PRIVILEGED_EXTENSIONS {
        let path = dir.join(format!("{name}.control"));
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        if text.lines().any(|l| l.trim_start().starts_with("trusted")) {
            continue;
        }
        let marked = format!(
            "{text}\n# cargo xtask: the platform lets `postgres` create {name} (supautils.privileged_extensions)\ntrusted = true\n"
        );
        fsutil::write_atomic(&path, marked.as_bytes())
            .with_context(|| format!("marking {} trusted", path.display()))?;
    }
    Ok(())
}

/// The comment of a captured stand-in's control files, as reports show it.
const CAPTURED_COMMENT: &str = "stand-in: captured from the platform baseline; schema only; calls are not made";

/// Adds the captured stand-ins to the extension folder `dir` of an owned tree: for each, its script as
/// `<name>--<local version>.sql` with a control file for that version (the schema the platform put it in), and
/// `<name>.control` when the tree has none. An extension whose real control file is there is left alone: the
/// real one is created, not copied. Several processes may start clusters on one tree at once, so every file is
/// written atomically, only when it is not already as written, and an existing `<name>.control` is never
/// replaced.
pub fn install_captured(dir: &Path, stand_ins: &[CapturedStandIn]) -> anyhow::Result<()> {
    for stand_in in stand_ins {
        if !stand_in.is_valid() {
            eprintln!(
                "note: the captured extension {} {} has a name or version no control file can hold (a quote, a space, `--`), so it has no stand-in here and creating it fails; add the real one to the tree with `scripts/setup`",
                stand_in.name, stand_in.version
            );
            continue;
        }
        // The real one is created, not copied. A hand-written stand-in is kept over a capture: a capture can only
        // stub the extension's C functions (null), and a migration observes what those return (`cron.schedule`'s
        // job id, `net.http_post`'s request id), which the hand-written ones reproduce.
        if has_real_control(dir, &stand_in.name)? || hand_written(&stand_in.name) {
            continue;
        }
        install_one(dir, stand_in).with_context(|| format!("adding the captured stand-in {}", stand_in.name))?;
    }
    Ok(())
}

/// Whether the xtask has its own stand-in for extension `name`.
pub fn hand_written(name: &str) -> bool {
    FILES.iter().any(|(file, _)| *file == format!("{name}.control"))
}

/// Whether `dir` has `name`'s real control file (one that is not a stand-in's).
fn has_real_control(dir: &Path, name: &str) -> anyhow::Result<bool> {
    let path = dir.join(format!("{name}.control"));
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(!is_stand_in(&text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
    }
}

fn install_one(dir: &Path, stand_in: &CapturedStandIn) -> anyhow::Result<()> {
    let (name, version) = (&stand_in.name, stand_in.local_version());
    ensure(&dir.join(format!("{name}--{version}.sql")), &format!("{}\n", stand_in.script))?;
    let schema = stand_in.schema.as_ref().map(|s| format!("schema = '{s}'\n")).unwrap_or_default();
    let version_control = format!(
        "# Written by cargo xtask: {name} {} as captured from the platform baseline, standing in for it.\n\
         comment = '{CAPTURED_COMMENT}'\nrelocatable = false\n{schema}",
        stand_in.version
    );
    ensure(&dir.join(format!("{name}--{version}.control")), &version_control)?;
    // Last, so no process sees the extension before its script; the first capture to get here names the
    // default version, and every other creates its own by name (`PlatformSchema::apply`).
    let control = dir.join(format!("{name}.control"));
    if control.exists() {
        return Ok(());
    }
    let trusted = if crate::domain::platform::is_privileged_extension(name) { "trusted = true\n" } else { "" };
    let text = format!(
        "# Written by cargo xtask: {name} is not in this tree, so the script captured with the platform baseline stands in for it.\n\
         comment = '{CAPTURED_COMMENT}'\ndefault_version = '{version}'\nrelocatable = false\n{trusted}"
    );
    match fsutil::create_new_atomic(&control, text.as_bytes()) {
        Err(_) if control.exists() => Ok(()), // another process made it meanwhile
        other => other,
    }
}

/// Writes `text` to `path` unless it already holds it.
fn ensure(path: &Path, text: &str) -> anyhow::Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == text.as_bytes()) {
        return Ok(());
    }
    fsutil::write_atomic(path, text.as_bytes())
}

/// The versions this server can create as stand-ins (extension name, version): the captured ones installed
/// where the extension's own control file is a stand-in's.
pub fn available(client: &mut postgres::Client) -> anyhow::Result<HashSet<(String, String)>> {
    let rows = client
        .query(
            "select v.name::text, v.version::text from pg_available_extension_versions v \
             join pg_available_extensions a on a.name = v.name \
             where a.comment like 'stand-in%' and v.comment like 'stand-in%'",
            &[],
        )
        .context("listing the stand-in extensions this server has")?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Whether a control file is one of the stand-ins.
fn is_stand_in(control: &str) -> bool {
    control.lines().any(|l| {
        let l = l.trim();
        l.starts_with("comment")
            && l.split_once('=').is_some_and(|(_, v)| v.trim().trim_start_matches('\'').starts_with("stand-in"))
    })
}

/// The stand-ins a database holds, as reports name them: "pg_net 0.19.5: stand-in, schema only; calls are not
/// made". The installed version's comment says which kind (a captured one's control file for its version
/// says so), else the extension's.
pub fn in_database(client: &mut postgres::Client) -> anyhow::Result<Vec<String>> {
    let rows = client.query(
        "select e.extname::text, e.extversion::text, coalesce(v.comment, a.comment, '')::text \
         from pg_extension e join pg_available_extensions a on a.name = e.extname \
         left join pg_available_extension_versions v on v.name = e.extname and v.version = e.extversion \
         where coalesce(v.comment, a.comment) like 'stand-in%' order by 1",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| {
            let (name, version, comment): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            format!("{name} {version}: {}", comment.replacen("stand-in:", "stand-in,", 1))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_a_stand_in_control_file_from_a_real_one() {
        assert!(is_stand_in("default_version = '1.6'\ncomment = 'stand-in: jobs are recorded, never run'\n"));
        assert!(!is_stand_in("comment = 'Job scheduler for PostgreSQL'\ndefault_version = '1.4-1'\n"));
        assert!(!is_stand_in("default_version = '1.0'\n"));
    }

    fn captured(name: &str, script: &str) -> CapturedStandIn {
        CapturedStandIn {
            name: name.into(),
            version: "1.2".into(),
            schema: Some("extensions".into()),
            script: script.into(),
        }
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_captured_stand_in_is_installed_as_a_version_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let one = captured("lost", "create table extensions.t (a int);");
        install_captured(dir.path(), std::slice::from_ref(&one)).unwrap();
        let version = one.local_version();
        assert_eq!(
            files(dir.path()),
            [format!("lost--{version}.control"), format!("lost--{version}.sql"), "lost.control".into()]
        );
        let control = std::fs::read_to_string(dir.path().join("lost.control")).unwrap();
        assert!(is_stand_in(&control) && control.contains(&format!("default_version = '{version}'")), "{control}");
        let for_version = std::fs::read_to_string(dir.path().join(format!("lost--{version}.control"))).unwrap();
        assert!(is_stand_in(&for_version) && for_version.contains("schema = 'extensions'"), "{for_version}");

        // Another capture adds its own version and leaves the first one's control file as it was.
        let two = captured("lost", "create table extensions.t (a int, b int);");
        install_captured(dir.path(), &[two.clone(), one.clone()]).unwrap();
        assert_eq!(files(dir.path()).len(), 5);
        assert_eq!(std::fs::read_to_string(dir.path().join("lost.control")).unwrap(), control);
    }

    #[test]
    fn a_real_extension_is_never_copied_and_a_hand_written_stand_in_is_kept_over_a_capture() {
        let dir = tempfile::tempdir().unwrap();
        let real = "comment = 'text similarity'\ndefault_version = '1.6'\n";
        std::fs::write(dir.path().join("pg_trgm.control"), real).unwrap();
        let hand_written = "comment = 'stand-in: schema only; calls are not made'\ndefault_version = '0.19.5'\n";
        std::fs::write(dir.path().join("pg_net.control"), hand_written).unwrap();
        install_captured(dir.path(), &[captured("pg_trgm", "select 1;"), captured("pg_net", "select 2;")]).unwrap();
        assert_eq!(files(dir.path()), ["pg_net.control", "pg_trgm.control"]);
        assert_eq!(std::fs::read_to_string(dir.path().join("pg_net.control")).unwrap(), hand_written);
        assert_eq!(std::fs::read_to_string(dir.path().join("pg_trgm.control")).unwrap(), real);
    }
}

//! Stand-in extensions: for the platform extensions no registry has at the platform's version (pg_net, http,
//! wrappers, pg_graphql, pgsodium, pg_cron), control files and scripts of the xtask's own (`xtask/extensions/`)
//! that reproduce their schema objects, so a history that creates and calls them replays. They are added to
//! the owned server trees, never over a real extension, and every report lists the ones a database holds:
//! a stand-in's control file comment starts with `stand-in`.

use std::path::Path;

use anyhow::Context;

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

/// Whether a control file is one of the stand-ins.
fn is_stand_in(control: &str) -> bool {
    control.lines().any(|l| {
        let l = l.trim();
        l.starts_with("comment")
            && l.split_once('=').is_some_and(|(_, v)| v.trim().trim_start_matches('\'').starts_with("stand-in"))
    })
}

/// The stand-ins a database holds, as reports name them: "pg_net 0.19.5: stand-in, schema only; calls are not
/// made".
pub fn in_database(client: &mut postgres::Client) -> anyhow::Result<Vec<String>> {
    let rows = client.query(
        "select e.extname::text, e.extversion::text, coalesce(a.comment, '')::text \
         from pg_extension e join pg_available_extensions a on a.name = e.extname \
         where a.comment like 'stand-in%' order by 1",
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
}

//! `cargo xtask catalog`: a snapshot of a target's live schema (`edges::target::catalog`), written to
//! `docs/database/catalog/<target>.json` (`domain::schema::catalog` holds its types and canonical text).

use std::path::Path;

use anyhow::Context;
use serde::Serialize;
use xshell::Shell;

use crate::domain::schema::catalog::{Snapshot, parse, render};
use crate::edges::os::fsutil;
use crate::edges::output::progress::Spinner;
use crate::edges::output::report::{self, Report};
use crate::edges::repo::Repo;
use crate::edges::target::Resolved;
use crate::edges::target::catalog::read;
use crate::flags;

impl flags::Catalog {
    pub fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let target = Resolved::resolve(sh, repo, &self.target.target)?;
        let snapshot = {
            let _spinner = Spinner::start(&format!("reading the catalog of {}", target.name), self.output.format);
            read(sh, repo, &target)?
        };
        let path = write(repo, &target.name, &snapshot)?;
        let report = CatalogReport {
            target: target.name.clone(),
            endpoint: target.describe(),
            snapshot: path,
            tables: snapshot.tables.len(),
            functions: snapshot.functions.len(),
            policies: snapshot.tables.iter().map(|t| t.policies.len()).sum(),
        };
        report::emit(&report, self.output.format)
    }
}

/// What `catalog` reports: where the snapshot went and what it holds.
#[derive(Debug, Serialize)]
pub struct CatalogReport {
    pub target: String,
    pub endpoint: String,
    pub snapshot: String,
    pub tables: usize,
    pub functions: usize,
    pub policies: usize,
}

impl Report for CatalogReport {
    fn human(&self) -> String {
        format!(
            "catalog: {} table(s), {} function(s), {} policy(ies) of {} -> {}\n",
            self.tables, self.functions, self.policies, self.endpoint, self.snapshot
        )
    }

    fn summary_md(&self) -> String {
        format!(
            "### Catalog of {}\n\n`{}`: {} table(s), {} function(s), {} policy(ies)\n",
            self.target, self.snapshot, self.tables, self.functions, self.policies
        )
    }
}

pub fn write(repo: &Repo, target: &str, snapshot: &Snapshot) -> anyhow::Result<String> {
    let path = repo.catalog_path(target);
    std::fs::create_dir_all(path.parent().context("catalog path")?)?;
    fsutil::write_atomic(&path, render(snapshot).as_bytes())?;
    Ok(repo.rel(&path))
}

/// A committed snapshot, with the file and the fix named when it is missing or malformed.
pub fn load(path: &Path, rel: &str, target_hint: &str) -> anyhow::Result<Snapshot> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{rel} is missing; create it with `cargo xtask catalog --target {target_hint}`"))?;
    parse(&text).with_context(|| {
        format!("{rel} is not a catalog snapshot; regenerate it with `cargo xtask catalog --target {target_hint}`")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_report_in_every_format() {
        use crate::edges::output::report::Format;
        use crate::edges::output::report::render;
        let report = CatalogReport {
            target: "prod".into(),
            endpoint: "project srcaoozjkrughebmbvfb".into(),
            snapshot: "docs/database/catalog/prod.json".into(),
            tables: 22,
            functions: 31,
            policies: 40,
        };
        let all = [Format::Human, Format::Github, Format::Json].map(|f| render(&report, f)).join("---\n");
        expect_test::expect![[r#"
            catalog: 22 table(s), 31 function(s), 40 policy(ies) of project srcaoozjkrughebmbvfb -> docs/database/catalog/prod.json
            ---
            catalog: 22 table(s), 31 function(s), 40 policy(ies) of project srcaoozjkrughebmbvfb -> docs/database/catalog/prod.json
            ---
            {
              "target": "prod",
              "endpoint": "project srcaoozjkrughebmbvfb",
              "snapshot": "docs/database/catalog/prod.json",
              "tables": 22,
              "functions": 31,
              "policies": 40
            }
        "#]]
        .assert_eq(&all);
    }
}

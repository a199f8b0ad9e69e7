//! `cargo xtask new NAME`: a migration file whose version sorts after everything applied or present.

use anyhow::bail;
use xshell::Shell;

use crate::domain::history::batch;
use crate::domain::history::migrations;
use crate::edges::os::fsutil;
use crate::edges::repo::Repo;
use crate::flags;

impl flags::New {
    pub fn run(self, _sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        validate_name(&self.name)?;
        let lock = repo.lock()?;
        let discovery = repo.discover()?;
        let heads = lock.targets.values().map(|t| t.head.as_str());
        let taken = discovery.migrations.iter().map(|m| m.version.as_str()).chain(heads);
        let version = batch::next_version(chrono::Utc::now(), taken)?;
        let file_name = format!("{version}_{}.sql", self.name);
        let path = repo.migrations_dir().join(&file_name);
        let header = format!(
            "-- {file_name}\n-- Created by `cargo xtask new {}`. Once promoted, never edit this file: forward-fix instead.\n\n",
            self.name
        );
        fsutil::create_new_atomic(&path, header.as_bytes())?;
        println!("{}", repo.rel(&path));
        Ok(())
    }
}

fn validate_name(name: &str) -> anyhow::Result<()> {
    let stem = name.strip_suffix(".sql").unwrap_or(name);
    if stem != name || !migrations::is_canonical_name(name) || name.len() > 80 {
        let suggestion = migrations::snake_case(stem);
        bail!(
            "`{name}` is not a migration name: use 1-80 lower-case letters, digits and `_`, e.g. `cargo xtask new {}`",
            if suggestion.is_empty() { "fix_problem_permission_helper" } else { suggestion.as_str() }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_check_would_flag_are_refused_with_a_suggestion() {
        assert!(validate_name("fix_form_metrics").is_ok());
        let err = validate_name("Fix Form-Metrics").unwrap_err().to_string();
        assert!(err.ends_with("e.g. `cargo xtask new fix_form_metrics`"), "{err}");
        assert!(validate_name("x.sql").is_err());
        assert!(validate_name("").is_err());
        assert!(validate_name(&"a".repeat(81)).is_err());
        assert_eq!(migrations::snake_case("AddWidgets"), "add_widgets");
        assert_eq!(migrations::snake_case("with space"), "with_space");
        assert_eq!(migrations::snake_case("HTTPRetry2Fix"), "httpretry2_fix");
        let err = validate_name("AddWidgets").unwrap_err().to_string();
        assert!(err.ends_with("e.g. `cargo xtask new add_widgets`"), "{err}");
    }
}

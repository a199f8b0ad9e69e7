//! Faults that must lose nothing: the CLI killed in the middle of a push, the disk filling up while the lock or a
//! record is written, the connection dropped while the catalog is read.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Tree, connect, example_versions, versions};

const STAGING_ENV: &str = "XTASK_TEST_STAGING_URL";

fn staging_tree() -> Tree {
    let tree = Tree::example();
    tree.append("xtask.toml", &format!("\n[targets.staging]\ndb_url_env = \"{STAGING_ENV}\"\n"));
    tree
}

/// Every process whose command line holds all of `words`.
fn pids_with(words: &[&str]) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let line = String::from_utf8_lossy(&std::fs::read(e.path().join("cmdline")).ok()?).replace('\0', " ");
            words.iter().all(|w| line.contains(w)).then_some(pid)
        })
        .collect()
}

#[test]
fn the_cli_killed_mid_push_then_a_rerun_applies_each_file_once() {
    let tree = staging_tree();
    tree.db_start();
    let url = tree.create_db("staging");
    // After the example: a table, a slow file (where the kill lands), and a file that counts its own runs.
    tree.write("migrations/20260601000000_runs.sql", "create table public.runs (n int);\n");
    tree.write("migrations/20260601000001_slow.sql", "select pg_sleep(30);\n");
    tree.write("migrations/20260601000002_count.sql", "insert into public.runs values (1);\n");
    let workdir = tree.path("target/xtask/stage").display().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--repo")
        .arg(tree.dir.path())
        .args(["promote", "--target", "staging", "--yes", "--skip-catalog"])
        .env(STAGING_ENV, &url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the slow file is running inside the real push, then SIGKILL every CLI process of it.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "the push never reached the slow file");
        let sleeping: i64 = connect(&url)
            .query_one("select count(*) from pg_stat_activity where query like 'select pg_sleep(30)%'", &[])
            .unwrap()
            .get(0);
        if sleeping > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let cli = pids_with(&["supabase", &workdir, "db push"]);
    assert!(!cli.is_empty(), "found the CLI's processes");
    for pid in &cli {
        assert!(Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap().success());
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let live = versions(&url);
    assert!(live.contains(&"20260601000000".to_string()) && !live.contains(&"20260601000001".to_string()), "{live:?}");
    assert!(stderr.contains("20260601000001_slow.sql failed on staging"), "{stderr}");

    assert!(stderr.contains("ended 1 session(s) the CLI left running on staging"), "{stderr}");
    // Not applied, so it may still change: the re-run need not sleep.
    tree.write("migrations/20260601000001_slow.sql", "select 1;\n");
    let rerun = tree.run_env(&["promote", "--target", "staging", "--yes", "--skip-catalog"], &[(STAGING_ENV, &url)]);
    assert_eq!(rerun.code, 0, "{}{}", rerun.stdout, rerun.stderr);
    let mut expected = example_versions();
    expected.extend(["20260601000000", "20260601000001", "20260601000002"].map(String::from));
    assert_eq!(versions(&url), expected);
    let runs: i64 = connect(&url).query_one("select count(*) from public.runs", &[]).unwrap().get(0);
    assert_eq!(runs, 1, "no file applied twice");
    let lock = String::from_utf8(tree.read("migrations/promotion.lock")).unwrap();
    assert!(
        lock.contains("[targets.staging]\nhead = \"20260601000002\""),
        "the recorded head is the live head: {lock}"
    );
}

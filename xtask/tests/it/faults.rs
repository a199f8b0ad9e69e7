//! Faults that must lose nothing: the CLI killed in the middle of a push, the disk filling up while the lock or a
//! record is written, the connection dropped while the catalog is read.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;

use crate::support::{Tree, connect, example_versions, versions};

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
    let child = crate::support::spawn(
        &tree,
        &["promote", "--target", "staging", "--yes", "--skip-catalog"],
        &[(STAGING_ENV, &url)],
    );
    // Wait until the slow file is running inside the real push, then SIGKILL every CLI process of it.
    crate::support::wait_for_statement(&url, "select pg_sleep(30)");
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

/// Mounts a tmpfs of `kib` KiB over `dir` (in this mount namespace only), keeping what `dir` held.
fn tmpfs_over(dir: &std::path::Path, kib: usize) {
    let saved = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        std::fs::copy(entry.path(), saved.path().join(entry.file_name())).unwrap();
    }
    let ok =
        Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"]).arg(dir).status().unwrap();
    assert!(ok.success(), "mount tmpfs");
    for entry in std::fs::read_dir(saved.path()).unwrap().flatten() {
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
}

/// Fills the file system of `dir` with a filler file until nothing is left.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join(".filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 1024];
    while file.write_all(&block).is_ok() && file.flush().is_ok() {}
    while file.write_all(&block[..1]).is_ok() {}
    let _ = file.sync_all();
    path
}

#[test]
fn a_full_disk_while_the_lock_is_written_keeps_the_old_lock_and_a_rerun_reconciles() {
    crate::support::in_namespace(
        "a_full_disk_while_the_lock_is_written_keeps_the_old_lock_and_a_rerun_reconciles",
        &["--mount"],
        || {
            let tree = staging_tree();
            tree.db_start();
            let url = tree.create_db("staging");
            let first = tree.run_env(
                &["promote", "--target", "staging", "--yes", "--until", "20260512220528"],
                &[(STAGING_ENV, &url)],
            );
            assert_eq!(first.code, 0, "{}", first.stderr);
            let lock_before = tree.read("migrations/promotion.lock");
            tmpfs_over(&tree.path("migrations"), 512);
            let filler = fill(&tree.path("migrations"));

            let run =
                tree.run_env(&["promote", "--target", "staging", "--yes", "--skip-catalog"], &[(STAGING_ENV, &url)]);
            assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
            assert!(
                run.stderr.contains(
                    "the disk is full. The previous file is unchanged; free space, then run the command again"
                ),
                "{}",
                run.stderr
            );
            assert_eq!(tree.read("migrations/promotion.lock"), lock_before, "the old lock is intact");
            let leftovers: Vec<_> = std::fs::read_dir(tree.path("migrations"))
                .unwrap()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
                .collect();
            assert!(leftovers.is_empty(), "no half-written file: {leftovers:?}");
            assert_eq!(versions(&url), example_versions(), "the push itself happened");

            std::fs::remove_file(filler).unwrap();
            let rerun =
                tree.run_env(&["promote", "--target", "staging", "--yes", "--skip-catalog"], &[(STAGING_ENV, &url)]);
            assert_eq!(rerun.code, 0, "{}{}", rerun.stdout, rerun.stderr);
            assert!(rerun.stderr.contains("reconciled: recorded"), "{}", rerun.stderr);
            let lock = String::from_utf8(tree.read("migrations/promotion.lock")).unwrap();
            assert!(lock.contains("[targets.staging]\nhead = \"20260513175000\""), "{lock}");
        },
    );
}

/// A proxy to `port` that passes the client's bytes through and the server's only up to `limit`, then drops both.
fn dropping_proxy(port: u16, limit: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let local = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let server = TcpStream::connect(("127.0.0.1", port)).unwrap();
            let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_in, &mut s_out);
            });
            let (mut s_in, mut c_out) = (server, client);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut sent = 0;
                while let Ok(n) = s_in.read(&mut buf) {
                    if n == 0 || sent + n > limit {
                        break;
                    }
                    if c_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    sent += n;
                }
                let _ = c_out.shutdown(std::net::Shutdown::Both);
                let _ = s_in.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    local
}

#[test]
fn a_connection_dropped_while_the_catalog_is_read_writes_no_partial_snapshot_or_stale_doc() {
    let tree = staging_tree();
    tree.db_start();
    let url = tree.create_db("staging");
    assert_eq!(tree.run_env(&["promote", "--target", "staging", "--yes"], &[(STAGING_ENV, &url)]).code, 0);
    let (snapshot, doc) = ("docs/database/catalog/staging.json", "docs/database/SCHEMA_CATALOG.STAGING.md");
    let before = (tree.read(snapshot), tree.read(doc));
    connect(&url).batch_execute("create table public.added_later (id int)").unwrap();

    let port: u16 = std::fs::read_to_string(tree.path("target/xtask/pg/17/port")).unwrap().trim().parse().unwrap();
    let proxied = url.replace(&format!(":{port}/"), &format!(":{}/", dropping_proxy(port, 6000)));
    let run = tree.run_env(&["catalog", "--target", "staging"], &[(STAGING_ENV, &proxied)]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("running the catalog query") || run.stderr.contains("connection"), "{}", run.stderr);
    assert_eq!((tree.read(snapshot), tree.read(doc)), before, "no partial snapshot, no doc from it");
    let promote = tree.run_env(&["docs-refresh", "--target", "staging", "--check"], &[]);
    assert_eq!(promote.code, 0, "the committed doc still matches the committed snapshot");
}

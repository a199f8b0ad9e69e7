//! Interruption is a state the xtask handles, tested with the real CLI against a real server: a signal before the
//! push pushes nothing; a signal during the push ends the CLI and its server session (the file in flight rolls
//! back), and the record says exactly what the database holds; no stage folder is left; a re-run goes on.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use crate::support::{Tree, Watched, commit_all, connect, prod_at_its_head, versions, wait_for_statement};

const SLOW: &str = "migrations/20260601000000_slow.sql";
const SLOW_SQL: &str =
    "create table public.slow_one (id int);\nselect pg_sleep(20);\ncreate table public.slow_two (id int);\n";

/// The xtask in a process group of its own (as a terminal's foreground job is), so a signal can reach the
/// whole group the way Ctrl-C does.
fn spawn(tree: &Tree, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut cmd = crate::support::xtask();
    cmd.arg("--repo").arg(tree.dir.path()).args(args).env_remove("PROD_DB_URL").env_remove("CI");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.process_group(0).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

fn signal(target: &str, signal: &str) {
    let status = Command::new("kill").args([signal, "--", target]).status().unwrap();
    assert!(status.success(), "kill {signal} {target}");
}

fn finish(child: Child) -> (i32, String) {
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn stages(tree: &Tree) -> Vec<String> {
    std::fs::read_dir(tree.path("target/xtask/stage"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

fn last_record(tree: &Tree) -> serde_json::Value {
    let dir = tree.path("target/xtask/promotions");
    let newest = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .max()
        .unwrap();
    serde_json::from_slice(&std::fs::read(newest).unwrap()).unwrap()
}

fn has_table(url: &str, name: &str) -> bool {
    connect(url).query_one("select to_regclass($1) is not null", &[&format!("public.{name}")]).unwrap().get(0)
}

/// `signal` (`-INT` to the group, or `-TERM` to the xtask alone) while the embedded database runs the slow file.
fn interrupted_during_the_push(kill: &str, to_group: bool) {
    let tree = Tree::example();
    let url = tree.db_start();
    tree.write(SLOW, SLOW_SQL);
    let child = spawn(&tree, &["promote"], &[]);
    wait_for_statement(&url, "select pg_sleep(20)");
    let pid = child.id().to_string();
    signal(&if to_group { format!("-{pid}") } else { pid }, kill);
    let (code, stderr) = finish(child);
    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("interrupted: a push to local is in progress"), "{stderr}");
    assert!(stderr.contains("promote: interrupted during the push to local: 23 file(s) applied and recorded (head 20260513175000); 20260601000000_slow.sql was rolled back; 0 not attempted"), "{stderr}");
    // The record equals the database: everything before the slow file applied, the slow file not.
    let live = versions(&url);
    assert_eq!(live.last().map(String::as_str), Some("20260513175000"), "the slow file's transaction rolled back");
    assert!(!has_table(&url, "slow_one"), "its first statement rolled back with it");
    let idle: i64 = connect(&url)
        .query_one("select count(*) from pg_stat_activity where application_name = '@effect/sql-pg'", &[])
        .unwrap()
        .get(0);
    assert_eq!(idle, 0, "no CLI session goes on on the server");
    let record = last_record(&tree);
    assert_eq!(record["outcome"], "interrupted");
    assert_eq!(record["applied"].as_array().unwrap().len(), 23);
    assert_eq!(record["failed"]["file"], "20260601000000_slow.sql");
    assert!(stages(&tree).is_empty(), "no stage left: {:?}", stages(&tree));

    // The next run knows: it pushes the slow file (quick now) and nothing twice.
    tree.write(SLOW, "create table public.slow_one (id int);\n");
    let run = tree.run(&["promote"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(has_table(&url, "slow_one"));
}

#[test]
fn sigint_to_the_group_during_the_push_rolls_back_the_file_in_flight_and_records_it() {
    interrupted_during_the_push("-INT", true);
}

#[test]
fn sigterm_to_the_xtask_alone_ends_the_cli_it_started() {
    interrupted_during_the_push("-TERM", false);
}

/// The embedded database pushing the slow file, interrupted once (SIGINT to the xtask alone) while the test holds
/// the history table, so that reading what the database holds must wait for the test; returns once the xtask has
/// said a push is in progress, with the session that holds the table.
fn interrupted_once_with_the_history_held(tree: &Tree, url: &str) -> (Watched, postgres::Client) {
    tree.write(SLOW, SLOW_SQL);
    let mut xtask = Watched::of(spawn(tree, &["promote"], &[]));
    wait_for_statement(url, "select pg_sleep(20)");
    let mut held = connect(url);
    held.batch_execute("begin; lock table supabase_migrations.schema_migrations in access exclusive mode").unwrap();
    signal(&xtask.pid().to_string(), "-INT");
    xtask.wait_for(
        "interrupted: a push to local is in progress; ending the CLI and its session, then reading what local holds",
    );
    (xtask, held)
}

#[test]
fn a_second_sigint_to_the_xtask_alone_still_ends_the_cli_and_records_what_the_database_holds() {
    let tree = Tree::example();
    let url = tree.db_start();
    let (xtask, mut held) = interrupted_once_with_the_history_held(&tree, &url);
    signal(&xtask.pid().to_string(), "-INT");
    held.batch_execute("commit").unwrap();
    let run = xtask.finish();
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(!run.stderr.contains("rolls back"), "{}", run.stderr);
    assert!(run.stderr.contains("20260601000000_slow.sql was rolled back; 0 not attempted"), "{}", run.stderr);
    assert_eq!(versions(&url).last().map(String::as_str), Some("20260513175000"), "the slow file is not applied");
    assert!(!has_table(&url, "slow_one"));
    let record = last_record(&tree);
    assert_eq!(record["outcome"], "interrupted");
    assert_eq!(record["failed"]["file"], "20260601000000_slow.sql");
    assert!(stages(&tree).is_empty(), "no stage left: {:?}", stages(&tree));
}

#[test]
fn a_second_signal_whose_outcome_cannot_be_read_in_time_says_the_state_is_unknown() {
    let tree = Tree::example();
    let url = tree.db_start();
    let (xtask, mut held) = interrupted_once_with_the_history_held(&tree, &url);
    // The history stays held: what the database holds cannot be read within the bound.
    signal(&xtask.pid().to_string(), "-TERM");
    let run = xtask.finish();
    held.batch_execute("commit").unwrap();
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(
        run.stderr.contains("the state of local is unknown: run `cargo xtask status --live --target local`"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("rolls back") && !run.stderr.contains("rolled back"), "{}", run.stderr);
    let idle: i64 = connect(&url)
        .query_one("select count(*) from pg_stat_activity where application_name = '@effect/sql-pg'", &[])
        .unwrap()
        .get(0);
    assert_eq!(idle, 0, "the CLI's session was ended all the same");
    assert!(!has_table(&url, "slow_one"), "its transaction rolled back");
    // The next run reads what the database holds, removes the stage left behind and pushes the rest.
    tree.write(SLOW, "create table public.slow_one (id int);\n");
    let next = tree.run(&["promote"]);
    assert_eq!(next.code, 0, "{}{}", next.stdout, next.stderr);
    assert!(has_table(&url, "slow_one"));
    assert!(stages(&tree).is_empty(), "no stage left: {:?}", stages(&tree));
}

#[test]
fn an_interruption_before_the_push_pushes_nothing() {
    let tree = Tree::example();
    tree.append("xtask.toml", "\n[targets.staging]\ndb_url_env = \"XTASK_TEST_STAGING_URL\"\n");
    let prod = prod_at_its_head(&tree, "XTASK_TEST_STAGING_URL");
    tree.write(SLOW, SLOW_SQL);
    commit_all(&tree);
    let child = spawn(&tree, &["promote", "--target", "prod", "--yes"], &[("PROD_DB_URL", prod.as_str())]);
    // The rehearsal runs the slow file on a local shadow: interrupt it there.
    wait_for_statement(&tree.admin_url("postgres"), "select pg_sleep(20)");
    signal(&format!("-{}", child.id()), "-INT");
    let (code, stderr) = finish(child);
    assert_eq!(code, 130, "{stderr}");
    assert!(
        stderr.contains(
            "promote: interrupted before the push: nothing was pushed; the locks are released and the stage is removed"
        ),
        "{stderr}"
    );
    assert_eq!(versions(&prod).len(), 9, "nothing pushed");
    assert!(stages(&tree).is_empty(), "no stage left: {:?}", stages(&tree));
    // The interruption ended the slow file on the shadow, instead of waiting for it and the lock report's run of it.
    assert!(stderr.contains("interrupted: ending what runs on this run's local shadow databases"), "{stderr}");
    // Nothing of this run still runs anywhere.
    let running = connect(&tree.admin_url("postgres"))
        .query(
            "select datname from pg_stat_activity where query like '%pg_sleep(20)%' and pid <> pg_backend_pid()",
            &[],
        )
        .unwrap();
    assert!(running.is_empty(), "still running after the run ended: {:?}", running.len());
    // A stage a killed run left behind (its process gone) is removed by the next run.
    tree.write(SLOW, "create table public.slow_one (id int);\n");
    std::fs::create_dir_all(tree.path("target/xtask/stage/prod-999999999/supabase")).unwrap();
    let run = tree.run_env(&["promote", "--target", "prod", "--dry-run"], &[("PROD_DB_URL", prod.as_str())]);
    assert!(stages(&tree).is_empty(), "{:?}: {}", stages(&tree), run.stderr);
}

#[test]
fn a_cli_session_a_killed_run_left_running_is_waited_for_not_raced() {
    let tree = Tree::example();
    let url = tree.db_start();
    tree.write(SLOW, SLOW_SQL);
    let child = spawn(&tree, &["promote"], &[]);
    wait_for_statement(&url, "select pg_sleep(20)");
    // SIGKILL: no handler runs; the CLI's server session goes on with the slow file.
    signal(&format!("-{}", child.id()), "-KILL");
    let _ = finish(child);
    let run = tree.run(&["promote"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("a Supabase CLI session that no running promotion owns is still running on local"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was pushed"), "{}", run.stderr);
    // The left-behind session ends (here: ended by hand, as the message says); the next run pushes what is left.
    connect(&url)
        .batch_execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where application_name = '@effect/sql-pg'",
        )
        .unwrap();
    tree.write(SLOW, "create table public.slow_one (id int);\n");
    let run = tree.run(&["promote"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(versions(&url).last().map(String::as_str), Some("20260601000000"));
}

/// The xtask on a terminal of its own (`script` gives it one), the way a person runs it: its output as the
/// terminal received it goes to `transcript`.
fn on_a_terminal(tree: &Tree, transcript: &std::path::Path) -> Child {
    // A shell leads the terminal's session, as in a terminal window; the xtask is its foreground job.
    let command = format!("{} --repo {} promote; true", env!("CARGO_BIN_EXE_xtask"), tree.dir.path().display());
    Command::new("script")
        .args(["-qfc", &command])
        .arg(transcript)
        .env_remove("CI")
        .env(xtask::edges::postgres::prepared::CACHE_ENV, crate::support::prepared_clusters())
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("`script` (util-linux) runs the xtask on a terminal")
}

fn wait_for_text(path: &std::path::Path, needle: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let text = String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned();
        if text.contains(needle) {
            return text;
        }
        assert!(std::time::Instant::now() < deadline, "the terminal never showed `{needle}`:\n{text}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn the_xtask_on(tree: &Tree) -> String {
    let out = Command::new("pgrep")
        .args(["-f", &format!("^{} --repo {}", env!("CARGO_BIN_EXE_xtask"), tree.dir.path().display())])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The embedded database pushing the slow file, the xtask on a terminal of its own: returns once it runs.
fn pushing_the_slow_file_on_a_terminal() -> (Tree, String, Child, std::path::PathBuf) {
    let tree = Tree::example();
    let url = tree.db_start();
    tree.write(SLOW, SLOW_SQL);
    let transcript = tree.path("terminal.txt");
    let script = on_a_terminal(&tree, &transcript);
    wait_for_text(&transcript, "applying 24/24 20260601000000_slow.sql");
    wait_for_statement(&url, "select pg_sleep(20)");
    (tree, url, script, transcript)
}

#[test]
fn on_a_terminal_the_spinner_names_the_file_and_no_frame_follows_an_interruption() {
    let (tree, _, script, transcript) = pushing_the_slow_file_on_a_terminal();
    signal(&the_xtask_on(&tree), "-INT");
    let out = script.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = wait_for_text(&transcript, "promote: interrupted during the push to local");
    let after = &text[text.find("interrupted: a push to local is in progress").unwrap()..];
    assert!(!after.contains("applying "), "a spinner frame after the interruption:\n{after}");
    assert_eq!(last_record(&tree)["outcome"], "interrupted");
}

#[test]
fn a_terminal_that_hangs_up_during_the_push_still_ends_the_cli_and_leaves_a_record() {
    let (tree, url, script, _) = pushing_the_slow_file_on_a_terminal();
    let xtask = the_xtask_on(&tree);
    // The terminal goes away (a closed window, a lost SSH session): nothing the xtask prints arrives any more, and
    // the terminal's interactive shell sends its job SIGHUP (here the test does, as a non-interactive shell would
    // not; the kernel may send one more, which is the same request).
    signal(&script.id().to_string(), "-KILL");
    let _ = script.wait_with_output();
    let _ = Command::new("kill").args(["-HUP", &xtask]).status();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while std::path::Path::new(&format!("/proc/{xtask}")).exists() {
        assert!(std::time::Instant::now() < deadline, "the xtask went on after its terminal hung up");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(last_record(&tree)["outcome"], "interrupted");
    assert_eq!(versions(&url).last().map(String::as_str), Some("20260513175000"), "the slow file is not applied");
    let cli: i64 = connect(&url)
        .query_one("select count(*) from pg_stat_activity where application_name = '@effect/sql-pg'", &[])
        .unwrap()
        .get(0);
    assert_eq!(cli, 0, "no CLI session goes on on the server");
}

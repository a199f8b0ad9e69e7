//! A copy of the example repository in a temporary directory, and a way to run the xtask on it. Database
//! helpers are the library's own (`xtask::edges::postgres`, `xtask::edges::target::history`), not copies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use xtask::domain::major::Major;

pub mod api;
pub mod github;
pub mod pooler;
pub mod proxy;
pub mod token_only;

pub struct Tree {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// What a finished xtask process said.
    pub fn of(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

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

    /// The `refusal` kind of a `--format json` document (`promote`'s record), `None` when it has none.
    pub fn refusal(&self) -> Option<String> {
        let json: serde_json::Value =
            serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout));
        json.get("refusal").map(|r| r.as_str().unwrap().to_string())
    }

    pub fn codes(&self) -> Vec<String> {
        self.findings().iter().map(|f| f.split(':').take(2).collect::<Vec<_>>().join(":")).collect()
    }
}

/// `from`'s files and folders, into `to` (which exists).
fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir(to.join(entry.file_name())).unwrap();
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// The built xtask, with this test run's prepared clusters: every cluster a test tree makes is a copy of one
/// `initdb` per major (`XTASK_TEST_CLUSTERS`, `xtask::edges::postgres::prepared`).
pub fn xtask() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.env(xtask::edges::postgres::prepared::CACHE_ENV, prepared_clusters());
    cmd
}

/// Where this test run keeps its prepared clusters: the one its parent process chose (a test re-run in a
/// namespace), else `xtask-test-clusters-<pid>` in the temporary directory, fresh for this run. Those of runs
/// whose process is gone are removed first.
pub fn prepared_clusters() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os(xtask::edges::postgres::prepared::CACHE_ENV) {
            return PathBuf::from(dir);
        }
        let prefix = "xtask-test-clusters-";
        for entry in std::fs::read_dir(std::env::temp_dir()).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name.strip_prefix(prefix) else { continue };
            if pid == std::process::id().to_string() || !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        std::env::temp_dir().join(format!("{prefix}{}", std::process::id()))
    })
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

impl Tree {
    /// `xtask.toml` and `migrations/` of this repository, copied: the runbook's state, PROD's history and the
    /// 14-file catch-up batch.
    /// The example's configuration with only `files` (name, text) as its migrations, and no lock.
    pub fn with_migrations(files: &[(&str, &str)]) -> Tree {
        let tree = Tree::example();
        for entry in std::fs::read_dir(tree.path("migrations")).unwrap().flatten() {
            std::fs::remove_file(entry.path()).unwrap();
        }
        for (name, text) in files {
            tree.write(&format!("migrations/{name}"), text);
        }
        tree
    }

    pub fn example() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        // As root the database server runs as `postgres`, which must be able to enter the tree.
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let root = repo_root();
        if root.join("node_modules").exists() {
            std::os::unix::fs::symlink(root.join("node_modules"), dir.path().join("node_modules")).unwrap();
        }
        std::fs::copy(root.join("xtask.toml"), dir.path().join("xtask.toml")).unwrap();
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        copy_dir(&root.join("migrations"), &dir.path().join("migrations"));
        Tree { dir }
    }

    /// A repository with only `config` as its `xtask.toml` and an empty `migrations/`.
    pub fn bare(config: &str) -> Tree {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let root = repo_root();
        if root.join("node_modules").exists() {
            std::os::unix::fs::symlink(root.join("node_modules"), dir.path().join("node_modules")).unwrap();
        }
        std::fs::write(dir.path().join("xtask.toml"), config).unwrap();
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        Tree { dir }
    }

    /// The example with the audit_log partition walk-through of `examples/partition/` (phase 1, the phase-2
    /// cutover and its `rollback/`) added to `migrations/`, pending together.
    pub fn full_example() -> Tree {
        let tree = Tree::example();
        copy_dir(&repo_root().join(PARTITION_EXAMPLE), &tree.path("migrations"));
        tree
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
        self.run_cmd(xtask(), args)
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = xtask();
        for (k, v) in env {
            cmd.env(k, v);
        }
        self.run_cmd(cmd, args)
    }

    pub fn append(&self, rel: &str, text: &str) {
        let mut bytes = self.read(rel);
        bytes.extend_from_slice(text.as_bytes());
        self.write(rel, bytes);
    }

    /// Starts the tree's embedded database (`cargo xtask db start`) and returns its admin URL.
    pub fn db_start(&self) -> String {
        let run = self.run(&["db", "start"]);
        assert_eq!(run.code, 0, "db start: {}", run.stderr);
        self.admin_url("postgres")
    }

    pub fn admin_url(&self, database: &str) -> String {
        self.admin_url_of(Major::V17, database)
    }

    /// The superuser's (`supabase_admin`'s) URL of `database` in the embedded cluster of `major`.
    pub fn admin_url_of(&self, major: Major, database: &str) -> String {
        xtask::edges::postgres::Cluster::new(&self.path(&format!("target/xtask/pg/{major}")), major)
            .admin_url(database)
            .unwrap()
    }

    /// The URL of `database` as `postgres`, the role the CLI and migrations run as (what `db url` prints).
    pub fn project_url(&self, database: &str) -> String {
        xtask::edges::postgres::Cluster::new(&self.path("target/xtask/pg/17"), Major::V17).url(database).unwrap()
    }

    /// A fresh database with the Supabase baseline, in the tree's embedded cluster.
    pub fn create_db(&self, name: &str) -> String {
        xtask::edges::postgres::create_database(&self.admin_url("postgres"), name).unwrap()
    }

    pub fn run_cmd(&self, mut cmd: Command, args: &[&str]) -> Run {
        Run::of(cmd.arg("--repo").arg(self.dir.path()).args(args).env_remove("CI").output().unwrap())
    }

    /// Runs a command that must not change anything on disk, and returns what it said.
    pub fn run_read_only(&self, args: &[&str]) -> Run {
        let before = self.contents();
        let run = self.run(args);
        let after = self.contents();
        let changed: Vec<_> = before.keys().chain(after.keys()).filter(|k| before.get(*k) != after.get(*k)).collect();
        assert!(changed.is_empty(), "`{}` changed files on disk: {changed:?}", args.join(" "));
        run
    }

    /// `check --format json`, asserting nothing on disk changed.
    pub fn check(&self) -> Run {
        self.run_read_only(&["check", "--format", "json"])
    }

    /// Every regular file under the tree and its bytes, but for `target/` (the database server's own files).
    pub fn contents(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let target = self.path("target");
        walkdir::WalkDir::new(self.dir.path())
            .follow_links(false)
            .into_iter()
            .filter_entry(|e| e.path() != target)
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).unwrap_or_default()))
            .collect()
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        for major in Major::ALL {
            if self.path(&format!("target/xtask/pg/{major}/data")).exists() {
                let _ = xtask()
                    .arg("--repo")
                    .arg(self.dir.path())
                    .args(["db", "stop", "--major", &major.to_string()])
                    .output();
            }
        }
    }
}

pub fn connect(url: &str) -> postgres::Client {
    xtask::edges::postgres::connect(url).unwrap_or_else(|e| panic!("{e:#}"))
}

/// The versions in a database's `supabase_migrations.schema_migrations`, oldest first.
pub fn versions(url: &str) -> Vec<String> {
    xtask::edges::target::history::read_direct(url).unwrap().into_iter().map(|a| a.version).collect()
}

/// Where the audit_log partition walk-through lives: kept out of `migrations/` so the repository's own pending
/// batch is the runbook's, and copied in by `Tree::full_example()`.
pub const PARTITION_EXAMPLE: &str = "examples/partition";

/// Versions of the files in `Tree::example()`, oldest first.
pub fn example_versions() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(repo_root().join("migrations"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str().map(str::to_string))
        .filter_map(|name| name.strip_suffix(".sql").map(|s| s[..14].to_string()))
        .collect();
    v.sort();
    v
}

pub const HEAD_FILE: &str = "migrations/20260512220528_nav_items_and_permissions.sql";
pub const APPLIED_FILE: &str = "migrations/20260202141500_problems.sql";
pub const PENDING_FILE: &str = "migrations/20260513124500_ce08_enhancements_schema_foundation.sql";

/// PROD's recorded head in the example.
pub const PROD_HEAD: &str = "20260512220528";

/// A "production" database in the tree's cluster, brought to the recorded head 20260512220528 as the real one is.
pub fn prod_at_its_head(tree: &Tree, staging_env: &str) -> String {
    tree.db_start();
    let url = tree.create_db("prod");
    bring_to_head(tree, staging_env, &url);
    url
}

/// Pushes the example's history up to PROD's recorded head into `url`, through a `staging` target reached by
/// the URL in `staging_env`.
pub fn bring_to_head(tree: &Tree, staging_env: &str, url: &str) {
    let run = tree.run_env(&["promote", "--target", "staging", "--yes", "--until", PROD_HEAD], &[(staging_env, url)]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

/// Makes the tree a git checkout with everything committed: a clean checkout, as protected targets require.
pub fn commit_all(tree: &Tree) {
    git(tree, &["init", "-q"]);
    std::fs::copy(repo_root().join(".gitignore"), tree.path(".gitignore")).unwrap();
    git(tree, &["add", "-A"]);
    git(tree, &["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init"]);
}

pub fn git(tree: &Tree, args: &[&str]) {
    let out = Command::new("git").current_dir(tree.dir.path()).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Commits whatever changed since, as a reviewer's merge would.
pub fn commit(tree: &Tree, message: &str) {
    git(tree, &["add", "-A"]);
    git(tree, &["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", message]);
}

const NAMESPACE_CHILD_ENV: &str = "XTASK_TEST_IN_NAMESPACE";

/// Runs `body` in fresh namespaces (`unshare <flags>`, as root): this test binary, re-run there for test `name`
/// only. Where namespaces cannot be made, the test says so and is skipped.
/// `module::name` as the test harness knows it: the name of the thread it runs the test on.
fn full_test_name(name: &str) -> String {
    match std::thread::current().name() {
        Some(full) if full.ends_with(name) => full.to_string(),
        _ => name.to_string(),
    }
}

pub fn in_namespace(name: &str, flags: &[&str], body: impl FnOnce()) {
    if std::env::var_os(NAMESPACE_CHILD_ENV).is_some() {
        return body();
    }
    match Command::new("unshare").args(flags).arg("true").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            let why = String::from_utf8_lossy(&out.stderr);
            return skip(name, &format!("`unshare {}` is refused here ({})", flags.join(" "), why.trim()));
        }
        Err(e) => return skip(name, &format!("`unshare` cannot run ({e})")),
    }
    let status = Command::new("unshare")
        .args(flags)
        .arg("--")
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", &full_test_name(name), "--nocapture", "--test-threads=1"])
        .env(NAMESPACE_CHILD_ENV, "1")
        .env(xtask::edges::postgres::prepared::CACHE_ENV, prepared_clusters())
        .status()
        .unwrap();
    assert!(status.success(), "{name} failed inside its namespace (its output is above)");
}

/// A test that cannot run here says so; under CI (`CI` set) that is a failure, so a job without the rights the
/// namespaced tests need cannot pass by skipping them (`XTASK_TEST_ALLOW_SKIP=1` allows it on purpose).
fn skip(name: &str, why: &str) {
    let allowed = std::env::var_os("XTASK_TEST_ALLOW_SKIP").is_some();
    if std::env::var_os("CI").is_some() && !allowed {
        panic!("{name} cannot run: {why}. Run the tests as root (sudo), or set XTASK_TEST_ALLOW_SKIP=1 to skip it");
    }
    eprintln!("SKIPPED {name}: {why}");
}

/// Starts the xtask on `tree` in the background, its output captured; credentials come from `env` only.
pub fn spawn(tree: &Tree, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    let mut cmd = xtask();
    cmd.arg("--repo").arg(tree.dir.path()).args(args);
    cmd.env_remove("PROD_DB_URL").env_remove("SUPABASE_ACCESS_TOKEN").env_remove("SUPABASE_PROJECT_ID");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
}

/// A running xtask whose stderr is read as it comes, so a test waits for what the xtask says (an event), never
/// for the clock.
pub struct Watched {
    child: std::process::Child,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

impl Watched {
    pub fn spawn(tree: &Tree, args: &[&str], env: &[(&str, &str)]) -> Watched {
        Watched::of(spawn(tree, args, env))
    }

    pub fn of(mut child: std::process::Child) -> Watched {
        use std::io::BufRead;
        let pipe = child.stderr.take().expect("stderr is piped");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = std::sync::Arc::clone(&stderr);
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut all = sink.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        Watched { child, stderr, reader }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Returns once the xtask has said `needle` (it fails after five minutes, or when the xtask ends first).
    pub fn wait_for(&mut self, needle: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
        loop {
            if self.stderr.lock().unwrap().contains(needle) {
                return;
            }
            let ended = self.child.try_wait().unwrap().is_some();
            assert!(
                !ended && std::time::Instant::now() < deadline,
                "the xtask {} without saying `{needle}`:\n{}",
                if ended { "ended" } else { "ran for five minutes" },
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    pub fn finish(self) -> Run {
        let Watched { child, stderr, reader } = self;
        let out = child.wait_with_output().unwrap();
        reader.join().unwrap();
        let stderr = std::mem::take(&mut *stderr.lock().unwrap());
        Run { stderr, ..Run::of(out) }
    }
}

/// Waits (at most a minute) until a session on the server at `url` runs a statement starting with `prefix`.
pub fn wait_for_statement(url: &str, prefix: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let pattern = format!("{prefix}%");
    loop {
        let running: i64 = connect(url)
            .query_one("select count(*) from pg_stat_activity where query like $1", &[&pattern])
            .unwrap()
            .get(0);
        if running > 0 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "no session ran `{prefix}` within a minute");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Returns once the Supabase CLI's session on `url` waits for a lock (a minute at most): which wait it is (the
/// backend and its statement's start).
pub fn wait_for_lock_wait(url: &str) -> (i32, String) {
    wait_for_lock_wait_other_than(url, None)
}

/// As `wait_for_lock_wait`, for a wait other than `seen` (the next attempt's, after `seen` was cancelled).
pub fn wait_for_lock_wait_other_than(url: &str, seen: Option<&(i32, String)>) -> (i32, String) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut session = connect(url);
    let waiting = "select pid, query_start::text from pg_stat_activity \
                   where application_name = '@effect/sql-pg' and wait_event_type = 'Lock'";
    loop {
        let rows = session.query(waiting, &[]).unwrap();
        if let Some(wait) = rows.iter().map(|r| (r.get(0), r.get(1))).find(|w| Some(w) != seen) {
            return wait;
        }
        assert!(std::time::Instant::now() < deadline, "the CLI's session never waited for a lock");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Returns once the Supabase CLI's session on `url` has waited for one lock for at least `interval` (a Postgres
/// interval), as the server counts it (`pg_locks.waitstart`); a minute at most.
pub fn wait_for_lock_wait_of_at_least(url: &str, interval: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut session = connect(url);
    let waited = "select count(*) from pg_locks l join pg_stat_activity a using (pid) \
                  where a.application_name = '@effect/sql-pg' and not l.granted \
                  and clock_timestamp() - l.waitstart >= $1::text::interval";
    while session.query_one(waited, &[&interval]).unwrap().get::<_, i64>(0) == 0 {
        assert!(std::time::Instant::now() < deadline, "the CLI's session never waited {interval} for a lock");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Returns once a session whose `application_name` is `name` waits for a lock (a minute at most).
pub fn wait_for_waiting(url: &str, name: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut session = connect(url);
    let waiting = "select count(*) from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock'";
    while session.query_one(waiting, &[&name]).unwrap().get::<_, i64>(0) == 0 {
        assert!(std::time::Instant::now() < deadline, "{name} never waited for a lock");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Two checkouts `a` and `b` of one commit (each with its own target/: two machines) promote `prod` at once, with
/// `env` only. Exactly one pushes; the other either waited for its lock and found the target up to date when it
/// planned again, or planned after it: both exit 0, one record. Returns the other's output.
pub fn race(a: &Tree, b: &Tree, env: &[(&str, &str)]) -> Run {
    let args = ["promote", "--target", "prod", "--yes", "--skip-catalog"];
    let (first, second) = (spawn(a, &args, env), spawn(b, &args, env));
    let runs = [Run::of(first.wait_with_output().unwrap()), Run::of(second.wait_with_output().unwrap())];
    for run in &runs {
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    }
    let pushed: Vec<bool> = runs.iter().map(|r| r.stdout.contains("Promoted ")).collect();
    assert_eq!(pushed.iter().filter(|p| **p).count(), 1, "{pushed:?}");
    let [x, y] = runs;
    let other = if pushed[0] { y } else { x };
    assert!(other.stdout.contains("prod is up to date at "), "{}{}", other.stdout, other.stderr);
    other
}

/// A live `public.events` (2,001 hourly rows from 2025-01-01) and its partitioned shadow `public.events_p` with
/// three monthly partitions holding the same rows: what parity and prune are run on.
pub const EVENTS_SQL: &str = "create table public.events (id bigint primary key, at timestamptz not null, payload text);
     insert into public.events select i, timestamptz '2025-01-01 00:00:00+00' + i * interval '1 hour', 'p' || i
       from generate_series(0, 2000) i;
     create table public.events_p (id bigint, at timestamptz not null, payload text) partition by range (at);
     create table public.events_p_2025_01 partition of public.events_p for values from ('2025-01-01 00:00:00+00') to ('2025-02-01 00:00:00+00');
     create table public.events_p_2025_02 partition of public.events_p for values from ('2025-02-01 00:00:00+00') to ('2025-03-01 00:00:00+00');
     create table public.events_p_2025_03 partition of public.events_p for values from ('2025-03-01 00:00:00+00') to ('2025-04-01 00:00:00+00');
     insert into public.events_p select * from public.events;";

/// `text` with the durations measured on a shadow (different on every run) named instead: `N ms on the shadow`
/// and json's `"held_ms": N`.
pub fn mask_durations(text: &str) -> String {
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let masked = match (line.find(" ms on the shadow"), line.find("\"held_ms\": ")) {
            (Some(end), _) => {
                // A sub-millisecond hold is said with a decimal (`0.2 ms`).
                let start = line[..end].trim_end_matches(|c: char| c.is_ascii_digit() || c == '.').len();
                format!("{}<ms>{}", &line[..start], &line[end..])
            }
            (None, Some(at)) => {
                let from = at + "\"held_ms\": ".len();
                let digits = line[from..].chars().take_while(char::is_ascii_digit).count();
                format!("{}<ms>{}", &line[..from], &line[from + digits..])
            }
            _ => line.to_string(),
        };
        out.push_str(&masked);
    }
    out
}

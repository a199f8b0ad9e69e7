//! `cargo xtask db start|stop|status|url|reset [--major 15|17]`: the embedded Postgres, one cluster per major.

use xshell::Shell;

use crate::domain::major::Major;
use crate::domain::refusal::Refusal;
use crate::edges::postgres::{Cluster, State};
use crate::edges::repo::Repo;
use crate::flags::{self, DbCmd};

impl flags::Db {
    pub fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let (major, source) = match self.major {
            Some(major) => (major, "--major".to_string()),
            None => {
                let (major, source) = repo.default_major()?;
                (major, source.to_string())
            }
        };
        // Made in each arm but `reset`'s: an older xtask's cluster makes it an error, which `reset` removes.
        let cluster = || repo.cluster(major);
        match self.cmd {
            DbCmd::Reset => reset(sh, repo, major)?,
            DbCmd::Start => {
                let cluster = cluster()?;
                cluster.start(sh)?;
                eprintln!(
                    "embedded database running: {} (PostgreSQL {major}, from {source})",
                    cluster.display_url("postgres")?
                );
            }
            DbCmd::Stop => match cluster()?.stop(sh)? {
                true => eprintln!("embedded database (PostgreSQL {major}) stopped"),
                false => eprintln!("embedded database (PostgreSQL {major}) was not running"),
            },
            DbCmd::Status => {
                for other in Major::ALL {
                    let line = status(sh, repo, &repo.cluster(other)?)?;
                    let default = if other == major {
                        format!("  (the embedded target's, from {source})")
                    } else {
                        String::new()
                    };
                    println!("PostgreSQL {other}: {line}{default}");
                }
            }
            DbCmd::Url => {
                let cluster = cluster()?;
                // Says so rather than starting it: a URL is asked for to connect now, and a server started as a
                // side effect would surprise whoever stopped it.
                if cluster.state(sh)? != State::Running {
                    return Err(crate::blocked::blocked(Refusal::NotRunning {
                        major: major.to_string(),
                        flag: flag(self.major),
                    }));
                }
                println!("{}", cluster.display_url("postgres")?);
                eprintln!("password: export PGPASSFILE={}", cluster.pgpass().display());
            }
        }
        Ok(())
    }
}

/// `--major N` when it was given, for messages that repeat the command.
fn flag(major: Option<Major>) -> String {
    major.map(|m| format!(" --major {m}")).unwrap_or_default()
}

/// One cluster's line: absent, stopped, or running with its URL and its templates (one per history it
/// rehearsed).
fn status(sh: &Shell, repo: &Repo, cluster: &Cluster) -> anyhow::Result<String> {
    let state = match cluster.state(sh) {
        Ok(state) => state,
        Err(err) => return Ok(format!("{err:#}")),
    };
    Ok(match state {
        State::Absent => format!("absent: `cargo xtask db start --major {}` creates it", cluster.major()),
        State::Stopped => format!("stopped (data in {})", repo.rel(&cluster.data_dir())),
        State::Running => {
            let url = cluster.url("postgres")?;
            crate::edges::output::redact::add_url(&url);
            let templates: i64 = crate::edges::postgres::connect(&url)?
                .query_one("select count(*) from pg_database where datname ~ '^xtask_tpl_[0-9a-f]+$'", &[])?
                .get(0);
            format!(
                "running: {} (data in {}; {templates} rehearsal template(s))",
                cluster.display_url("postgres")?,
                repo.rel(&cluster.data_dir())
            )
        }
    })
}

/// Throws the cluster of `major` away (and a cluster left by an xtask from before one per major) and starts a
/// fresh one with only the baseline.
fn reset(sh: &Shell, repo: &Repo, major: Major) -> anyhow::Result<()> {
    if repo.legacy_cluster().is_some() {
        remove_legacy(sh, repo)?;
    }
    let cluster = repo.cluster(major)?;
    if let Err(err) = cluster.remove(sh) {
        // A cluster of another major in this folder cannot be stopped by this major's pg_ctl: its files go.
        eprintln!("note: {err:#}; removing its files");
        std::fs::remove_dir_all(repo.cluster_dir(major))?;
    }
    cluster.start(sh)?;
    eprintln!("embedded database (PostgreSQL {major}) recreated: {}", cluster.display_url("postgres")?);
    Ok(())
}

/// The cluster an older xtask kept in `pg/` itself: its server stopped with its own binaries when they are still
/// there (its `postmaster.pid` names nothing else), its files removed.
fn remove_legacy(sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
    let dir = repo.clusters_dir();
    let server_dir = std::fs::read_to_string(dir.join("server-dir"))
        .map(|s| std::path::PathBuf::from(s.trim()))
        .unwrap_or(dir.clone());
    let data = server_dir.join("data");
    let pid = std::fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
    if let Some(pid) =
        pid.lines().next().map(str::trim).filter(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    {
        // SIGINT: Postgres' fast shutdown; waited for, so its files can go.
        let _ = xshell::cmd!(sh, "kill -INT {pid}").quiet().ignore_status().ignore_stderr().run();
        for _ in 0..100 {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    if server_dir != dir {
        let _ = std::fs::remove_dir_all(&server_dir);
    }
    std::fs::remove_dir_all(&dir)?;
    eprintln!("removed {}: a cluster from before one cluster per major", repo.rel(&dir));
    Ok(())
}

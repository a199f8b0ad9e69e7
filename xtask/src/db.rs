//! `cargo xtask db start|stop|status|url|reset`: the embedded Postgres.

use xshell::Shell;

use crate::edges::postgres::State;
use crate::edges::repo::Repo;
use crate::flags::{self, DbCmd};

impl flags::Db {
    pub fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let cluster = repo.cluster()?;
        match self.cmd {
            DbCmd::Start => {
                cluster.start(sh)?;
                eprintln!("embedded database running: {}", cluster.display_url("postgres")?);
            }
            DbCmd::Stop => match cluster.stop(sh)? {
                true => eprintln!("embedded database stopped"),
                false => eprintln!("embedded database was not running"),
            },
            DbCmd::Status => match cluster.state(sh)? {
                State::Absent => println!("absent: `cargo xtask db start` creates it"),
                State::Stopped => println!("stopped (data in {})", repo.rel(&cluster.data_dir())),
                State::Running => {
                    println!(
                        "running: {} (data in {})",
                        cluster.display_url("postgres")?,
                        repo.rel(&cluster.data_dir())
                    )
                }
            },
            DbCmd::Url => {
                // Says so rather than starting it: a URL is asked for to connect now, and a server started as a
                // side effect would surprise whoever stopped it.
                if cluster.state(sh)? != State::Running {
                    return Err(crate::blocked::blocked(
                        "db url: the embedded database is not running; start it with `cargo xtask db start`",
                    ));
                }
                println!("{}", cluster.display_url("postgres")?);
                eprintln!("password: export PGPASSFILE={}", cluster.pgpass().display());
            }
            DbCmd::Reset => {
                cluster.remove(sh)?;
                cluster.start(sh)?;
                eprintln!("embedded database recreated: {}", cluster.display_url("postgres")?);
            }
        }
        Ok(())
    }
}

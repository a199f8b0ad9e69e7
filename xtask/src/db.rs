//! `cargo xtask db start|stop|status|url|reset`: the embedded Postgres.

use xshell::Shell;

use crate::flags::{self, DbCmd};
use crate::migrations;
use crate::pg::{Cluster, State};

impl flags::Db {
    pub fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let root = sh.current_dir();
        let cluster = Cluster::new(&root);
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
                State::Stopped => {
                    println!("stopped (data in {})", migrations::rel(&root, &root.join("target/xtask/pg/data")))
                }
                State::Running => println!("running: {}", cluster.display_url("postgres")?),
            },
            DbCmd::Url => {
                cluster.start(sh)?;
                println!("{}", cluster.display_url("postgres")?);
                eprintln!("password: export PGPASSFILE={}", root.join("target/xtask/pg/pgpass").display());
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

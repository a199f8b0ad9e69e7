//! The exposure review's reads: what the Data API's roles reach in a database (`xtask/sql/exposure.sql`, into
//! `domain::exposure::Snapshot`), and a target's own schema grants and default privileges, made into statements
//! that give a shadow the same (`xtask/sql/exposure_grants.sql`).

use anyhow::Context;

use crate::domain::exposure::Snapshot;

const SNAPSHOT_SQL: &str = include_str!("../../../sql/exposure.sql");
const GRANTS_SQL: &str = include_str!("../../../sql/exposure_grants.sql");

/// What `anon` and `authenticated` reach in `schemas`, as the server at the other end of `client` holds it.
pub fn snapshot(client: &mut postgres::Client, schemas: &[String]) -> anyhow::Result<Snapshot> {
    let json: String = client
        .query_one(SNAPSHOT_SQL, &[&schemas])
        .context("reading what the Data API's roles reach (xtask/sql/exposure.sql)")?
        .get(0);
    serde_json::from_str(&json).context("the exposure read's document does not parse")
}

/// The statements that give a shadow the target's schema `USAGE` and `postgres`'s default privileges for the API
/// roles in `schemas`; none where the target has no `postgres` role (a plain PostgreSQL).
pub fn target_grants(client: &mut postgres::Client, schemas: &[String]) -> anyhow::Result<Vec<String>> {
    let has_postgres: bool = client.query_one("select to_regrole('postgres') is not null", &[])?.get(0);
    if !has_postgres {
        return Ok(Vec::new());
    }
    let rows = client
        .query(GRANTS_SQL, &[&schemas])
        .context("reading the target's schema grants and default privileges (xtask/sql/exposure_grants.sql)")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Runs each statement on the shadow; one naming a schema the shadow lacks is skipped (the batch may create it).
pub fn apply_grants(client: &mut postgres::Client, statements: &[String]) -> anyhow::Result<()> {
    for statement in statements {
        match client.batch_execute(statement) {
            Ok(()) => {}
            Err(e) if e.code() == Some(&postgres::error::SqlState::INVALID_SCHEMA_NAME) => {}
            Err(e) => return Err(e).with_context(|| format!("giving the shadow the target's grants: {statement}")),
        }
    }
    Ok(())
}

/// The lock report of a batch with what the API roles reach before it and after its files.
pub struct Measured {
    pub impacts: Vec<super::impact::FileImpact>,
    pub before: Snapshot,
    /// After batch files (their paths relative to the repository), in order, what they reach.
    pub after: Vec<(String, Snapshot)>,
}

/// Which batch files the exposure is read after.
#[derive(Clone, Copy)]
pub enum ReadAfter<'a> {
    /// Every file: each finding is named with its own file.
    Each,
    /// The files of a branch (paths), and the file before each: a change is named with the branch's file that
    /// made it, or with the last of the other files before it (which the review does not show).
    Around(&'a std::collections::BTreeSet<&'a str>),
}

impl ReadAfter<'_> {
    fn wanted(self, batch: &[&crate::domain::history::migrations::Migration], i: usize) -> bool {
        match self {
            ReadAfter::Each => true,
            ReadAfter::Around(ours) => {
                let is_ours = |j: usize| batch.get(j).is_some_and(|m| ours.contains(m.rel_path.as_str()));
                is_ours(i) || is_ours(i + 1) || i + 1 == batch.len()
            }
        }
    }
}

/// Gives the shadow at `url` (at the target's head) the target's `grants`, then applies `batch` one file per
/// transaction as `impact::measure` does, reading what the API roles reach in `schemas` before it and after the
/// files `read_after` wants.
pub fn measure(
    url: &str,
    batch: &[&crate::domain::history::migrations::Migration],
    (schemas, grants): (&[String], &[String]),
    read_after: ReadAfter,
) -> anyhow::Result<Measured> {
    let mut client = super::connect(url)?;
    apply_grants(&mut client, grants)?;
    let before = snapshot(&mut client, schemas)?;
    let mut measured = Measured { impacts: Vec::new(), before, after: Vec::new() };
    for (i, m) in batch.iter().enumerate() {
        measured.impacts.push(super::impact::measure_file(&mut client, m)?);
        if read_after.wanted(batch, i) {
            measured.after.push((m.rel_path.clone(), snapshot(&mut client, schemas)?));
        }
    }
    Ok(measured)
}

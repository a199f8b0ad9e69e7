//! Case (b): is a pending file's effect already on the target, run by hand with no history row? A shadow at the
//! head the repairs leave (the target's major and role model) is read (`xtask/sql/proof.sql`: every schema's
//! objects, Supabase's own included, with owners, grants and definitions), the file is pushed onto it through
//! the CLI and the shadow read again: what differs is the file's effect, held object by object against the
//! target (`domain::history::repair::compare`). The next pending files are tried in order, each on top of the
//! last; the first whose effect is not on the target ends it (it is simply pending).

use anyhow::Context;

use crate::domain::history::migrations::Migration;
use crate::domain::history::proof;
use crate::domain::history::repair::{self, Found, Rows};
use crate::edges::postgres as pg;
use crate::edges::shadow::Shadow;
use crate::edges::supabase::cli::Cli;
use crate::edges::supabase::management_api::Access;
use crate::edges::target::Resolved;

use super::super::Ctx;

const PROOF_SQL: &str = include_str!("../../../sql/proof.sql");

/// The same session settings on every database read: deparsed text depends on them.
const SETTINGS: &str = "set search_path = pg_catalog; set datestyle = iso; set intervalstyle = postgres; \
     set timezone = 'UTC'; set extra_float_digits = 1";

/// The verdict on each of `to_prove` (file names, in order) up to the first that is simply pending.
pub(super) fn prove(
    ctx: &Ctx,
    (cli, target): (&Cli, &Resolved),
    files: &[Migration],
    head: Option<&str>,
    to_prove: &[String],
) -> anyhow::Result<Vec<Found>> {
    let applied: Vec<&Migration> = files.iter().filter(|m| head.is_some_and(|h| m.version.as_str() <= h)).collect();
    let on_target = {
        let direct = target.direct(Access::ReadOnly)?;
        rows(&mut direct.connect().context("reading the target's catalog for the proof")?)?
    };
    eprintln!("reconcile: proving the next pending file(s) on a local shadow at head {}", head.unwrap_or("(none)"));
    let (shadow, _) = Shadow::at_history(ctx.sh, ctx.repo, cli, target.shadow_of()?, &applied, "reconcile")?;
    let mut before = rows(&mut pg::connect(shadow.url())?)?;
    let mut done: Vec<&Migration> = applied.clone();
    let mut out = Vec::new();
    for name in to_prove {
        let Some(m) = files.iter().find(|m| m.file_name == *name) else { break };
        // A file that fails there is not proven, and fails `promote` too: said, not a reason to refuse the rest.
        if let Err(err) = shadow.replay(ctx.sh, cli, &done, &[m]) {
            eprintln!("note: {} does not apply on a shadow at the new head, so it is not proven: {err:#}", m.rel_path);
            break;
        }
        let after = rows(&mut pg::connect(shadow.url())?)?;
        let comparison = repair::compare(&before, &after, &on_target);
        let unseen: Vec<(usize, String)> = proof::unseen(m.text()?).into_iter().map(|u| (u.line, u.what)).collect();
        let Some(found) = repair::judge_proof(m, &target.name, &comparison, &unseen) else { break };
        let proven = matches!(found.repair, repair::Repair::WriteHistory { .. });
        out.push(found);
        if !proven {
            break;
        }
        done.push(m);
        before = after;
    }
    Ok(out)
}

/// A database's proof rows, read under the same settings everywhere.
fn rows(client: &mut postgres::Client) -> anyhow::Result<Rows> {
    let mut tx = client.transaction()?;
    tx.batch_execute(&format!("set transaction read only; {SETTINGS}"))?;
    let rows = tx.query(PROOF_SQL, &[]).context("reading the catalog for the proof (xtask/sql/proof.sql)")?;
    Ok(rows.iter().map(|r| ((r.get::<_, String>(0), r.get::<_, String>(1)), r.get::<_, String>(2))).collect())
}

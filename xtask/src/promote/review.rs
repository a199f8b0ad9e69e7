//! The review printed before the confirmation: the batch, the findings to read, what the CLI's dry-run
//! listed, the rehearsal. A pure function of the record, so it is snapshot-tested.

use std::fmt::Write;

use crate::domain::history::migrations::Migration;

use super::record::Record;

/// `endpoint` is the target as people see it (never with a password); `beyond` the pending files after
/// `--until`, which are named so nobody mistakes the cut for the whole backlog.
pub fn render(record: &Record, endpoint: &str, beyond: &[&Migration]) -> String {
    let mut out = String::new();
    let head = record.head_before.as_deref().unwrap_or("(none)");
    let count = record.batch.len();
    let _ = writeln!(out, "Promotion of {count} migration(s) to {} ({endpoint}), after head {head}:\n", record.target);
    for (i, file) in record.batch.iter().enumerate() {
        let _ = writeln!(out, "  {}. {}", i + 1, file.file);
    }
    if let Some(connection) = record.connection {
        let _ = writeln!(out, "\nConnection: {connection}.");
    }
    if !record.findings.is_empty() {
        let _ = writeln!(out, "\nTo review:");
        for f in &record.findings {
            let _ = writeln!(
                out,
                "  {}[{}] {}{}: {}",
                f.severity.as_str(),
                f.code,
                f.file,
                super::record::line_of(f),
                f.message
            );
        }
    }
    if let Some(exposure) = &record.exposure {
        let _ = write!(out, "\n{}", crate::domain::exposure::human(exposure));
    }
    if let Some(why) = &record.exposure_not_computed {
        let _ = writeln!(out, "\nExposure through the Data API: {why}.");
    }
    if !record.impact.is_empty() {
        let _ = writeln!(
            out,
            "\nLocks and rewrites (each file applied in its own transaction on a local shadow; sizes on {}):",
            record.target
        );
        out.push_str(&crate::edges::postgres::impact::render(&record.impact, Some(&record.target)));
    }
    if !beyond.is_empty() {
        let names: Vec<&str> = beyond.iter().map(|m| m.file_name.as_str()).collect();
        let _ = writeln!(out, "\nNot in this promotion (after --until): {}", names.join(", "));
    }
    let _ = writeln!(out, "\nThe CLI's dry-run (supabase {}) lists exactly these {count} file(s).", record.cli_version);
    if let Some(r) = &record.rehearsal {
        let _ = writeln!(out, "Rehearsal: {r}.");
    }
    if !record.stand_ins.is_empty() {
        let _ = write!(
            out,
            "Stand-in extensions on the shadow (their calls are not made):\n{}",
            super::record::stand_in_lines(&record.stand_ins)
        );
    }
    if let Some(cutover) = &record.cutover {
        cutover.render_md(&mut out);
    }
    out
}

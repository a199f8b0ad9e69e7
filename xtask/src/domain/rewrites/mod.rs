//! The safe form of a flagged statement: what `review` suggests and `fix` writes. A flagged statement is looked
//! up by the finding's position; its rewrite is a list of pieces, some of which must run in a later migration
//! (a `VALIDATE` after the `NOT VALID` add has committed) or in a migration of their own (a `CONCURRENTLY`
//! statement, which the CLI runs outside the file's transaction). `split` turns a file and its rewrites into the
//! files `fix` writes. Pure: text and findings in, text out.

mod cases;
mod names;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;
use squawk_syntax::SourceFile;
use squawk_syntax::ast::{self, AstNode};

use crate::domain::findings::{Finding, LineIndex, Pos};

/// One piece of a statement's safe form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Runs where the statement stood, in the same migration.
    Same(String),
    /// Needs a migration of its own (a `CONCURRENTLY` statement); `label` names that file.
    Alone { sql: String, label: &'static str },
    /// What follows runs in a later migration, named `label`, once the earlier part has committed.
    Later { label: &'static str },
}

/// How a flagged statement is written safely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    /// Path relative to the repository root.
    pub file: String,
    pub line: u32,
    /// The rule codes that flagged the statement.
    pub codes: Vec<String>,
    /// The statement as written, on one line.
    pub statement: String,
    /// The lock (or the breakage) the safe form avoids.
    pub avoids: String,
    /// The safe form: SQL to paste, with comments where it spans migrations.
    pub safe: String,
    /// `fix` writes it (else it needs the author: a backfill, a name, a deploy in between).
    pub mechanical: bool,
}

/// A statement's rewrite as `cases` finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    pub avoids: String,
    pub form: Form,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// Written by `fix`.
    Mechanical(Vec<Piece>),
    /// Advice only: SQL with placeholders, or why no safe form is written for this statement.
    Manual(String),
}

/// What the rewrites know of the tree beyond the file: tables declared `PARTITION BY` (an index on one cannot be
/// built concurrently).
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub partitioned: BTreeSet<String>,
}

/// A statement of a file: its text (with `;`), where it starts, and the comments and blank lines before it.
struct Stmt {
    lead: String,
    text: String,
    start: Pos,
    end: Pos,
    node: ast::Stmt,
}

/// The file's statements in order, and whatever follows the last one.
fn statements(text: &str) -> (Vec<Stmt>, String) {
    let parse = SourceFile::parse(text);
    let index = LineIndex::new(text);
    let mut out = Vec::new();
    let mut last = 0usize;
    for node in parse.tree().stmts() {
        let range = node.syntax().text_range();
        let (start, end) = (usize::from(range.start()), usize::from(range.end()));
        if matches!(node, ast::Stmt::EmptyStmt(_)) || start < last {
            continue;
        }
        out.push(Stmt {
            lead: text[last..start].to_string(),
            text: text[start..end].to_string(),
            start: index.pos(text, start),
            end: index.pos(text, end),
            node,
        });
        last = end;
    }
    (out, text[last..].to_string())
}

/// The statement a finding points at, by position.
fn statement_at(stmts: &[Stmt], pos: Pos) -> Option<usize> {
    stmts.iter().position(|s| s.start <= pos && pos <= s.end)
}

/// A rule's finding on a statement: where, and the rule's code.
pub type Flag = (Pos, String);

/// The flags of `findings`.
pub fn flags(findings: &[Finding]) -> Vec<Flag> {
    findings.iter().map(|f| (f.pos, f.code.to_string())).collect()
}

/// Each flagged statement of `text` with its codes, in file order; one entry per statement.
fn flagged(stmts: &[Stmt], flags: &[Flag]) -> Vec<(usize, Vec<String>)> {
    let mut out: Vec<(usize, Vec<String>)> = Vec::new();
    for (pos, code) in flags {
        let Some(i) = statement_at(stmts, *pos) else { continue };
        let code = code.clone();
        match out.iter_mut().find(|(at, _)| *at == i) {
            Some((_, codes)) if !codes.contains(&code) => codes.push(code),
            Some(_) => {}
            None => out.push((i, vec![code])),
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out
}

/// The safe form of every flagged statement of one file (`findings` are that file's). Statements no rule with a
/// known safe form flagged are left out.
pub fn suggest(file: &str, text: &str, flags: &[Flag], ctx: &Context) -> Vec<Suggestion> {
    let (stmts, _) = statements(text);
    flagged(&stmts, flags)
        .into_iter()
        .filter_map(|(i, codes)| {
            let rewrite = cases::rewrite(&stmts[i].node, &stmts[i].text, &codes, ctx)?;
            Some(suggestion(file, &stmts[i], codes, rewrite))
        })
        .collect()
}

fn suggestion(file: &str, stmt: &Stmt, codes: Vec<String>, rewrite: Rewrite) -> Suggestion {
    let (safe, mechanical) = match &rewrite.form {
        Form::Mechanical(pieces) => (render_pieces(pieces), true),
        Form::Manual(text) => (text.clone(), false),
    };
    Suggestion {
        file: file.to_string(),
        line: stmt.start.line,
        codes,
        statement: one_line(&stmt.text),
        avoids: rewrite.avoids,
        safe,
        mechanical,
    }
}

/// The pieces as one text to paste: the migrations it spans are marked by comments.
fn render_pieces(pieces: &[Piece]) -> String {
    let mut out = String::new();
    for (i, piece) in pieces.iter().enumerate() {
        match piece {
            Piece::Same(sql) => {
                let _ = writeln!(out, "{sql}");
            }
            Piece::Alone { sql, .. } => {
                let _ = writeln!(out, "-- in a migration of its own (the CLI runs it outside a transaction):\n{sql}");
            }
            // A last `Later` only keeps what follows the statement out of its migration.
            Piece::Later { .. } if i + 1 == pieces.len() => {}
            Piece::Later { .. } => {
                let _ = writeln!(out, "-- in a later migration, once the above has committed:");
            }
        }
    }
    out.trim_end().to_string()
}

/// A statement on one line, cut at 120 characters.
pub fn one_line(sql: &str) -> String {
    let line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > 120 { format!("{}…", line.chars().take(120).collect::<String>()) } else { line }
}

/// One file `fix` writes: the original's first part keeps its name; a later part gets a new version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// `None` for the original file; else why the part stands apart (the piece that cut it off).
    pub label: Option<&'static str>,
    /// `None` for the original file; else what the part holds, for its file name (distinct within the file).
    pub name: Option<String>,
    pub text: String,
}

/// What `fix` makes of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub parts: Vec<Part>,
    /// The suggestions written into the parts.
    pub fixed: Vec<Suggestion>,
    /// The suggestions left to the author.
    pub left: Vec<Suggestion>,
}

/// The file's statements with every mechanical rewrite applied, cut into the migrations the rewrites need. The
/// comments before a statement travel with it; `-- xtask:` acknowledgements and phases are repeated in each part,
/// since they speak for the file.
pub fn split(file: &str, text: &str, flags: &[Flag], ctx: &Context) -> Split {
    let (stmts, trailer) = statements(text);
    let mut rewrites = std::collections::BTreeMap::new();
    let (mut fixed, mut left) = (Vec::new(), Vec::new());
    for (i, codes) in flagged(&stmts, flags) {
        let Some(rewrite) = cases::rewrite(&stmts[i].node, &stmts[i].text, &codes, ctx) else { continue };
        let s = suggestion(file, &stmts[i], codes, rewrite.clone());
        match rewrite.form {
            Form::Mechanical(pieces) => {
                rewrites.insert(i, pieces);
                fixed.push(s);
            }
            Form::Manual(_) => left.push(s),
        }
    }
    let mut parts = Splitter::new(directives(text), file);
    for (i, stmt) in stmts.iter().enumerate() {
        match rewrites.remove(&i) {
            Some(pieces) => parts.rewritten(&stmt.lead, pieces),
            None => parts.same(&stmt.lead, &stmt.text),
        }
    }
    Split { parts: parts.finish(&trailer), fixed, left }
}

/// The `-- xtask: ack destructive` and `partition-phase` lines of a file: they hold for every part of it.
fn directives(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| {
            let body = l.strip_prefix("--").map(str::trim).and_then(|b| b.strip_prefix("xtask:")).map(str::trim);
            body.is_some_and(|b| b.starts_with("ack destructive") || b.starts_with("partition-phase"))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Builds the parts: the current one takes statements until a piece needs a migration of its own or a later one.
struct Splitter {
    done: Vec<Part>,
    current: Part,
    /// Whether the current part holds a statement yet (comments alone do not count).
    has_statement: bool,
    directives: String,
    /// The original file's name, for the parts' headers.
    origin: String,
}

impl Splitter {
    fn new(directives: String, origin: &str) -> Splitter {
        let current = Part { label: None, name: None, text: String::new() };
        let origin = origin.rsplit('/').next().unwrap_or(origin).to_string();
        Splitter { done: Vec::new(), current, has_statement: false, directives, origin }
    }

    fn same(&mut self, lead: &str, sql: &str) {
        // A part of its own starts right under its header.
        let lead =
            if self.has_statement || self.current.label.is_none() { lead } else { lead.trim_start_matches('\n') };
        self.current.text.push_str(lead);
        self.current.text.push_str(sql);
        self.has_statement = true;
    }

    fn rewritten(&mut self, lead: &str, pieces: Vec<Piece>) {
        let mut lead = Some(lead);
        for piece in pieces {
            match piece {
                Piece::Same(sql) => {
                    let sep = lead.take().unwrap_or("\n");
                    self.same(sep, &sql);
                }
                Piece::Alone { sql, label } => {
                    self.next(label);
                    let sep = lead.take().unwrap_or("");
                    self.same(sep, &sql);
                    self.next("continued");
                }
                Piece::Later { label } => self.next(label),
            }
        }
        // A statement rewritten to nothing (a BEGIN) leaves its comments where it stood.
        if let Some(lead) = lead {
            self.current.text.push_str(lead);
        }
    }

    /// Closes the current part (when it holds a statement) and opens one labelled `label`; a part opened but
    /// still empty takes the new label instead (two statements that each stand alone). Its header is written
    /// once its statements are known (`finish`).
    fn next(&mut self, label: &'static str) {
        let opened = Part { label: Some(label), name: None, text: self.directives.clone() };
        if self.has_statement {
            let part = std::mem::replace(&mut self.current, opened);
            self.done.push(part);
            self.has_statement = false;
        } else if self.current.label.is_some() {
            self.current = opened;
        }
    }

    fn finish(mut self, trailer: &str) -> Vec<Part> {
        if self.has_statement || self.done.is_empty() {
            self.current.text.push_str(trailer);
            self.done.push(self.current);
        } else if let Some(last) = self.done.last_mut() {
            last.text.push_str(trailer);
        }
        name_parts(&mut self.done, &self.origin);
        for part in &mut self.done {
            if !part.text.ends_with('\n') {
                part.text.push('\n');
            }
        }
        self.done
    }
}

/// Each part after the first named from its first statement, and headed by what it holds, the file it was
/// split from and why it stands apart.
fn name_parts(parts: &mut [Part], origin: &str) {
    let mut taken = std::collections::BTreeSet::new();
    let mut previous: Option<String> = None;
    for part in parts.iter_mut() {
        let (stmts, _) = statements(&part.text);
        let holds = stmts.first().map(|s| names::holds(&s.node, &s.text));
        let what = holds.as_ref().map_or_else(|| "comments".to_string(), |h| h.what.clone());
        if let Some(label) = part.label {
            let more = match stmts.len() {
                0 | 1 => String::new(),
                2 => " and the statement after it".to_string(),
                n => format!(" and the {} statements after it", n - 1),
            };
            let why = why_split(label, previous.as_deref().unwrap_or("the statement before it"));
            part.text = format!("-- Split off {origin} by `cargo xtask fix`: {what}{more}. {why}.\n{}", part.text);
            let name = holds.map_or_else(|| label.to_string(), |h| h.name);
            part.name = Some(names::unique(name, &mut taken));
        }
        previous = Some(what);
    }
}

/// Why a part stands apart, for its header; `previous` is what the part before it holds.
fn why_split(label: &str, previous: &str) -> String {
    match label {
        "concurrent_index" | "concurrent_drop_index" | "concurrent_reindex" | "unique_index" => {
            "A CONCURRENTLY statement runs outside the CLI's transaction, so it stands alone".to_string()
        }
        "validate" | "validate_not_null" => "The VALIDATE runs once the NOT VALID constraint has committed".to_string(),
        "set_not_null" => "It runs once the check is valid, which spares SET NOT NULL its scan".to_string(),
        "after_commit" => "It followed the file's COMMIT, so it runs once what that ended has committed".to_string(),
        _ => format!("It followed {previous}, which runs in a migration of its own"),
    }
}

/// Versions for `count` new parts after `version`: a second apart, each free, each before `next` (the version
/// the tree has after this file), so the split files keep their place in the order. `None` when there is no room.
pub fn versions_after(version: &str, count: usize, next: Option<&str>) -> Option<Vec<String>> {
    let time = chrono::NaiveDateTime::parse_from_str(version, "%Y%m%d%H%M%S").ok()?;
    let out: Vec<String> =
        (1..=count as i64).map(|k| (time + chrono::Duration::seconds(k)).format("%Y%m%d%H%M%S").to_string()).collect();
    match (out.last(), next) {
        (Some(last), Some(next)) if last.as_str() >= next => None,
        _ => Some(out),
    }
}

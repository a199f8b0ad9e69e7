//! The safe form of each kind of flagged statement, with the lock it avoids. A form is mechanical only where
//! nothing is guessed: the index or constraint has a name (written or as Postgres derives it), the table is no
//! partitioned one, the statement has no option the safe form would drop.

use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::{SyntaxKind, SyntaxNode};

use super::{Context, Form, Piece, Rewrite};

const CREATE_INDEX: &str = "require-concurrent-index-creation";
const DROP_INDEX: &str = "require-concurrent-index-deletion";
const REINDEX: &str = "require-concurrent-reindex";
const CONCURRENTLY: &str = "concurrently";
const NOT_VALID: &str = "constraint-missing-not-valid";
const FOREIGN_KEY: &str = "adding-foreign-key-constraint";
const UNIQUE: &str = "disallowed-unique-constraint";
const NOT_NULL: &str = "adding-not-nullable-field";
const REQUIRED: &str = "adding-required-field";
const WITH_DEFAULT: &str = "adding-field-with-default";
const SERIAL_PK: &str = "adding-serial-primary-key-field";
const DESTRUCTIVE: &str = "destructive";
const TYPE_CHANGE: &str = "changing-column-type";

/// The rewrite of `node` (whose text is `text`) for the rules in `codes`; `None` when none of them has a safe form.
pub fn rewrite(node: &ast::Stmt, text: &str, codes: &[String], ctx: &Context) -> Option<Rewrite> {
    let has = |c: &str| codes.iter().any(|x| x == c);
    use ast::Stmt as S;
    match node {
        S::CreateIndex(s) if has(CREATE_INDEX) || has(CONCURRENTLY) => Some(create_index(s, text, ctx)),
        S::DropIndex(s) if has(DROP_INDEX) || has(CONCURRENTLY) => Some(drop_index(s, text)),
        S::Reindex(s) if has(REINDEX) || has(CONCURRENTLY) => Some(reindex(s.syntax(), text)),
        S::AlterTable(s) => alter_table(s, codes, ctx),
        S::Truncate(_) if has("ban-truncate-cascade") => Some(manual(
            "emptying tables nobody named: CASCADE follows every foreign key",
            "TRUNCATE <every table to empty, named>;  -- without CASCADE: an unnamed dependent table makes it fail instead",
        )),
        S::CreateDomain(_) | S::AlterDomain(_)
            if has("ban-create-domain-with-constraint") || has("ban-alter-domain-with-add-constraint") =>
        {
            Some(manual(
                "a scan of every column of the domain's type, with no NOT VALID form",
                "-- a CHECK on each column instead, added NOT VALID and validated in a later migration:\nALTER TABLE <table> ADD CONSTRAINT <name> CHECK (<condition on the column>) NOT VALID;\n-- later: ALTER TABLE <table> VALIDATE CONSTRAINT <name>;",
            ))
        }
        S::DropDatabase(_) if has("ban-drop-database") => {
            Some(manual("the loss of a whole database", "-- no safe form: a migration never drops a database"))
        }
        S::Begin(_) if has("transaction-control") => Some(Rewrite {
            avoids: "an explicit transaction inside the CLI's: after COMMIT the rest of the file runs in autocommit and a failure leaves it half-applied".into(),
            form: Form::Mechanical(Vec::new()),
        }),
        // What a COMMIT ended must still be committed before what follows (a new enum value, say): the rest goes
        // to a later migration, each in the CLI's own transaction.
        S::Commit(_) if has("transaction-control") => Some(Rewrite {
            avoids: "an explicit COMMIT inside the CLI's transaction: the rest of the file runs in autocommit and a failure leaves it half-applied".into(),
            form: Form::Mechanical(vec![Piece::Later { label: "after_commit" }]),
        }),
        _ => None,
    }
}

fn manual(avoids: &str, advice: &str) -> Rewrite {
    Rewrite { avoids: avoids.to_string(), form: Form::Manual(advice.to_string()) }
}

/// `CREATE INDEX` → `CREATE INDEX CONCURRENTLY IF NOT EXISTS`, alone in its migration.
fn create_index(s: &ast::CreateIndex, text: &str, ctx: &Context) -> Rewrite {
    let table = s.table_relation_name().map(|t| t.syntax().text().to_string()).unwrap_or_default();
    let avoids = format!("a SHARE lock on {table} for the whole build: every INSERT, UPDATE and DELETE waits");
    if ctx.partitioned.contains(&crate::domain::lint::sql::norm(&table)) {
        return manual(
            &avoids,
            &format!(
                "-- {table} is partitioned: an index on it cannot be built CONCURRENTLY. Build it on each partition, then the parent:\nCREATE INDEX CONCURRENTLY IF NOT EXISTS <partition>_<columns>_idx ON <partition> (...);  -- one migration each\nCREATE INDEX IF NOT EXISTS <name> ON ONLY {table} (...);\nALTER INDEX <name> ATTACH PARTITION <partition>_<columns>_idx;  -- per partition"
            ),
        );
    }
    let at = |t: Option<squawk_syntax::SyntaxToken>| t.map(|t| rel_end(s.syntax(), &t));
    let Some(after_index) = at(s.index_token()) else { return manual(&avoids, "-- the statement did not parse") };
    let mut edits = Vec::new();
    let mut after = after_index;
    if let Some(end) = at(s.concurrently_token()) {
        after = end;
    } else {
        edits.push((after_index, " CONCURRENTLY".to_string()));
    }
    if s.if_not_exists().is_none() {
        if s.index().is_none() {
            // Postgres's own name for it (`t_a_idx`, or `t_a_idx1` when that is taken, INCLUDE columns in it) cannot
            // be known from the file: a guessed one with IF NOT EXISTS could skip the build on an existing index.
            let safe = apply(text, &[(after_index, " CONCURRENTLY IF NOT EXISTS <name>".into())]);
            return manual(
                &avoids,
                &format!("-- name the index (a re-run must find it), in a migration of its own:\n{safe}"),
            );
        }
        edits.push((after, " IF NOT EXISTS".into()));
    }
    alone(avoids, apply(text, &edits), "concurrent_index")
}

/// `DROP INDEX` → `DROP INDEX CONCURRENTLY IF EXISTS`, alone; one index, no CASCADE (neither is allowed there).
fn drop_index(s: &ast::DropIndex, text: &str) -> Rewrite {
    let avoids = "an ACCESS EXCLUSIVE lock on the index's table: every read and write waits".to_string();
    if s.index_refs().count() != 1 || has_token(s.syntax(), SyntaxKind::CASCADE_KW) {
        return manual(
            &avoids,
            "-- one DROP INDEX CONCURRENTLY IF EXISTS <index>; per index, each in a migration of its own (no CASCADE)",
        );
    }
    let Some(index) = s.index_token() else { return manual(&avoids, "-- the statement did not parse") };
    let mut after = rel_end(s.syntax(), &index);
    let mut edits = Vec::new();
    match s.concurrently_token() {
        Some(t) => after = rel_end(s.syntax(), &t),
        None => edits.push((after, " CONCURRENTLY".to_string())),
    }
    if s.if_exists().is_none() {
        edits.push((after, " IF EXISTS".into()));
    }
    alone(avoids, apply(text, &edits), "concurrent_drop_index")
}

/// `REINDEX INDEX|TABLE|SCHEMA x` → `REINDEX ... CONCURRENTLY x`, alone.
fn reindex(node: &SyntaxNode, text: &str) -> Rewrite {
    let avoids = "a SHARE lock on the table (ACCESS EXCLUSIVE on the index) for the whole rebuild".to_string();
    let kinds = [SyntaxKind::INDEX_KW, SyntaxKind::TABLE_KW, SyntaxKind::SCHEMA_KW, SyntaxKind::DATABASE_KW];
    let Some(kind) = node.descendants_with_tokens().filter_map(|t| t.into_token()).find(|t| kinds.contains(&t.kind()))
    else {
        return manual(&avoids, "-- REINDEX SYSTEM cannot run concurrently: run it outside migrations");
    };
    alone(avoids, apply(text, &[(rel_end(node, &kind), " CONCURRENTLY".into())]), "concurrent_reindex")
}

fn alone(avoids: String, sql: String, label: &'static str) -> Rewrite {
    Rewrite { avoids, form: Form::Mechanical(vec![Piece::Alone { sql, label }]) }
}

/// An `ALTER TABLE`: each action on its own statement, the flagged ones in their safe form. Mechanical when every
/// flagged action's form is; otherwise the advice for each.
fn alter_table(s: &ast::AlterTable, codes: &[String], ctx: &Context) -> Option<Rewrite> {
    let head = alter_head(s)?;
    let table = s.table_relation_name().map(|t| t.syntax().text().to_string())?;
    let partitioned = ctx.partitioned.contains(&crate::domain::lint::sql::norm(&table));
    let actions: Vec<ast::AlterTableAction> = s.actions().collect();
    let mut pieces = Vec::new();
    let (mut avoids, mut advice, mut all_mechanical, mut any) = (Vec::new(), Vec::new(), true, false);
    for action in &actions {
        let sql = format!("{head} {};", action.syntax().text());
        match action_rewrite(action, &head, &table, codes) {
            None => pieces.push(Piece::Same(sql)),
            Some(rewrite) => {
                any = true;
                if !avoids.contains(&rewrite.avoids) {
                    avoids.push(rewrite.avoids.clone());
                }
                match rewrite.form {
                    Form::Mechanical(p) => {
                        advice.push(super::render_pieces(&p));
                        pieces.extend(p);
                    }
                    Form::Manual(text) => {
                        all_mechanical = false;
                        advice.push(text);
                    }
                }
            }
        }
    }
    if !any {
        return None;
    }
    if partitioned && all_mechanical {
        // PG 15 refuses a NOT VALID foreign key and a CONCURRENTLY index on a partitioned table.
        advice.insert(0, format!("-- {table} is partitioned: do this on each partition, then on the parent"));
        all_mechanical = false;
    }
    let form = if all_mechanical { Form::Mechanical(pieces) } else { Form::Manual(advice.join("\n")) };
    Some(Rewrite { avoids: avoids.join("; "), form })
}

/// `ALTER TABLE [IF EXISTS] [ONLY] name` as written, without the comments between its words (a `-- note` there
/// would swallow the action written after it).
fn alter_head(s: &ast::AlterTable) -> Option<String> {
    let first = s.actions().next()?.syntax().text_range().start();
    // Each run of whitespace and comments becomes one space; the words keep their own spelling (`public.t`).
    let mut head = String::new();
    let tokens = s.syntax().descendants_with_tokens().filter_map(|t| t.into_token());
    for token in tokens.take_while(|t| t.text_range().start() < first) {
        match token.kind() {
            SyntaxKind::COMMENT | SyntaxKind::WHITESPACE if !head.ends_with(' ') => head.push(' '),
            SyntaxKind::COMMENT | SyntaxKind::WHITESPACE => {}
            _ => head.push_str(token.text()),
        }
    }
    Some(head.trim_end().to_string())
}

fn action_rewrite(action: &ast::AlterTableAction, head: &str, table: &str, codes: &[String]) -> Option<Rewrite> {
    let has = |c: &str| codes.iter().any(|x| x == c);
    use ast::AlterTableAction as A;
    match action {
        A::AddConstraint(a) => add_constraint(a, head, table, codes),
        A::AlterColumn(a) => match a.option()? {
            ast::AlterColumnOption::SetNotNull(_) if has(NOT_NULL) => {
                Some(set_not_null(head, table, &a.column_name_ref()?.syntax().text().to_string()))
            }
            ast::AlterColumnOption::SetType(t) if has(DESTRUCTIVE) || has(TYPE_CHANGE) => {
                let ty = t.ty().map_or("<new type>".to_string(), |ty| ty.syntax().text().to_string());
                Some(type_change(table, &a.column_name_ref()?.syntax().text().to_string(), &ty))
            }
            _ => None,
        },
        A::ValidateConstraint(v) if has(NOT_VALID) => Some(Rewrite {
            avoids: "the VALIDATE's scan while the ADD's lock is still held by the same transaction".into(),
            form: Form::Mechanical(vec![
                Piece::Later { label: "validate" },
                Piece::Same(format!("{head} {};", v.syntax().text())),
                Piece::Later { label: "continued" },
            ]),
        }),
        A::AddColumn(_) if has(REQUIRED) => Some(manual(
            &format!("the ADD failing on a populated {table} (NOT NULL without a default)"),
            &format!(
                "ALTER TABLE {table} ADD COLUMN <column> <type>;  -- nullable first\n-- backfill in batches (a later migration or a job), e.g.:\n-- UPDATE {table} SET <column> = <value> WHERE id IN (SELECT id FROM {table} WHERE <column> IS NULL LIMIT 10000);\n-- then SET NOT NULL the safe way: CHECK (<column> IS NOT NULL) NOT VALID, VALIDATE, SET NOT NULL, DROP the check"
            ),
        )),
        A::AddColumn(_) if has(WITH_DEFAULT) => Some(manual(
            &format!("ACCESS EXCLUSIVE on {table} while every row is rewritten with the volatile default"),
            &format!(
                "ALTER TABLE {table} ADD COLUMN <column> <type>;  -- no default: no rewrite\nALTER TABLE {table} ALTER COLUMN <column> SET DEFAULT <default>;  -- new rows\n-- backfill the existing rows in batches, in a later migration or a job"
            ),
        )),
        A::AddColumn(_) if has(SERIAL_PK) => Some(manual(
            &format!("ACCESS EXCLUSIVE on {table} while it is rewritten and the primary key's index is built"),
            &format!(
                "ALTER TABLE {table} ADD COLUMN <column> bigint;  -- then fill it in batches\n-- in a migration of its own:\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS <table>_pkey ON {table} (<column>);\n-- later:\nALTER TABLE {table} ADD CONSTRAINT <table>_pkey PRIMARY KEY USING INDEX <table>_pkey;"
            ),
        )),
        A::AddColumn(_) if has(FOREIGN_KEY) => Some(manual(
            &format!("SHARE ROW EXCLUSIVE on {table} and the referenced table while every row is checked"),
            &format!(
                "ALTER TABLE {table} ADD COLUMN <column> <type>;  -- without REFERENCES\nALTER TABLE {table} ADD CONSTRAINT <name> FOREIGN KEY (<column>) REFERENCES <other> (<key>) NOT VALID;\n-- in a later migration:\nALTER TABLE {table} VALIDATE CONSTRAINT <name>;"
            ),
        )),
        A::RenameColumn(_) if has("renaming-column") => Some(manual(
            "no long lock, but every running client that still uses the old name fails at once",
            &format!(
                "-- expand, then contract: add the new column, write both (a trigger), move readers, then drop the old one in a later release\nALTER TABLE {table} ADD COLUMN <new> <type>;"
            ),
        )),
        A::TableRenameTo(_) if has("renaming-table") => Some(manual(
            "no long lock, but every running client that still uses the old name fails at once",
            &format!(
                "-- rename, and keep the old name readable until every client has moved:\n{head} RENAME TO <new>;\nCREATE VIEW {table} AS SELECT * FROM <new>;  -- drop it in a later release"
            ),
        )),
        _ => None,
    }
}

/// `ADD CONSTRAINT c FOREIGN KEY|CHECK` → `NOT VALID`, then `VALIDATE` in a later migration; `ADD CONSTRAINT c
/// UNIQUE (cols)` → a unique index built concurrently, then the constraint `USING INDEX`.
fn add_constraint(a: &ast::AddConstraint, head: &str, table: &str, codes: &[String]) -> Option<Rewrite> {
    let has = |c: &str| codes.iter().any(|x| x == c);
    let constraint = a.constraint()?;
    let name_of = |clause: Option<ast::ConstraintNameClause>| {
        clause.and_then(|c| c.constraint_name()).map(|n| n.syntax().text().to_string())
    };
    let not_valid = |node: &SyntaxNode| has_token(node, SyntaxKind::VALID_KW);
    let text = a.syntax().text().to_string();
    let (avoids, name) = match &constraint {
        ast::Constraint::ForeignKeyConstraint(c) if (has(NOT_VALID) || has(FOREIGN_KEY)) && !not_valid(c.syntax()) => (
            format!(
                "SHARE ROW EXCLUSIVE on {table} and the table it references while every row is checked: writes wait"
            ),
            name_of(c.constraint_name_clause()),
        ),
        ast::Constraint::CheckConstraint(c) if has(NOT_VALID) && !not_valid(c.syntax()) => (
            format!("ACCESS EXCLUSIVE on {table} while every row is checked: reads and writes wait"),
            name_of(c.constraint_name_clause()),
        ),
        ast::Constraint::UniqueConstraint(c) if has(UNIQUE) && c.using_index().is_none() => {
            return Some(unique(c, head, table));
        }
        _ => return None,
    };
    let Some(name) = name else {
        return Some(manual(
            &avoids,
            &format!(
                "-- name the constraint, so the later migration can validate it:\n{head} ADD CONSTRAINT <name> {} NOT VALID;\n-- in a later migration:\n{head} VALIDATE CONSTRAINT <name>;",
                text.trim_start_matches(|c: char| c.is_ascii_alphabetic()).trim()
            ),
        ));
    };
    Some(Rewrite {
        avoids,
        form: Form::Mechanical(vec![
            Piece::Same(format!("{head} {text} NOT VALID;")),
            Piece::Later { label: "validate" },
            Piece::Same(format!("{head} VALIDATE CONSTRAINT {name};")),
            // The scan holds SHARE UPDATE EXCLUSIVE: nothing after it should wait for a stronger lock meanwhile.
            Piece::Later { label: "continued" },
        ]),
    })
}

fn unique(c: &ast::UniqueConstraint, head: &str, table: &str) -> Rewrite {
    let avoids = format!("ACCESS EXCLUSIVE on {table} while the unique index is built: reads and writes wait");
    let name = c.constraint_name_clause().and_then(|n| n.constraint_name()).map(|n| n.syntax().text().to_string());
    let columns = c.index_parameters().map(|p| p.syntax().text().to_string()).unwrap_or_default();
    let simple = columns.starts_with('(')
        && columns.ends_with(')')
        && c.constraint_options().next().is_none()
        && !["include", "with", "tablespace"].iter().any(|w| columns.to_ascii_lowercase().contains(w));
    let table_only = head.to_ascii_lowercase().contains(" only ");
    match name {
        Some(name) if simple && !table_only => Rewrite {
            avoids,
            form: Form::Mechanical(vec![
                Piece::Alone {
                    sql: format!("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} {columns};"),
                    label: "unique_index",
                },
                Piece::Same(format!("{head} ADD CONSTRAINT {name} UNIQUE USING INDEX {name};")),
            ]),
        },
        _ => manual(
            &avoids,
            &format!(
                "-- in a migration of its own:\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS <name> ON {table} <columns>;\n-- in a later migration:\n{head} ADD CONSTRAINT <name> UNIQUE USING INDEX <name>;"
            ),
        ),
    }
}

/// `SET NOT NULL` → a `CHECK (col IS NOT NULL) NOT VALID`, `VALIDATE` it, `SET NOT NULL` (which then skips its
/// scan: the valid check proves it), and drop the check.
fn set_not_null(head: &str, table: &str, column: &str) -> Rewrite {
    let avoids = format!("ACCESS EXCLUSIVE on {table} while every row is scanned for NULLs: reads and writes wait");
    let name = format!("{}_{}_not_null", bare(table), bare(column));
    let plain = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if name.len() > 63 || !plain {
        return manual(
            &avoids,
            &format!(
                "{head} ADD CONSTRAINT <name> CHECK ({column} IS NOT NULL) NOT VALID;\n-- in a later migration:\n{head} VALIDATE CONSTRAINT <name>;\n-- in a later one:\n{head} ALTER COLUMN {column} SET NOT NULL;\n{head} DROP CONSTRAINT <name>;"
            ),
        );
    }
    Rewrite {
        avoids,
        form: Form::Mechanical(vec![
            Piece::Same(format!("{head} ADD CONSTRAINT {name} CHECK ({column} IS NOT NULL) NOT VALID;")),
            Piece::Later { label: "validate_not_null" },
            Piece::Same(format!("{head} VALIDATE CONSTRAINT {name};")),
            Piece::Later { label: "set_not_null" },
            // squawk cannot see the valid check that makes this SET NOT NULL skip its scan.
            Piece::Same(format!(
                "-- squawk-ignore {NOT_NULL} -- the valid check {name} proves it: no scan\n{head} ALTER COLUMN {column} SET NOT NULL;\n{head} DROP CONSTRAINT {name};"
            )),
        ]),
    }
}

fn type_change(table: &str, column: &str, ty: &str) -> Rewrite {
    manual(
        &format!("ACCESS EXCLUSIVE on {table} while every row is rewritten: reads and writes wait"),
        &format!(
            "-- expand, backfill, switch: no rewrite under a lock\nALTER TABLE {table} ADD COLUMN {column}_new {ty};\n-- a trigger that keeps {column}_new in step with {column} on INSERT and UPDATE\n-- backfill in batches: UPDATE {table} SET {column}_new = {column}::{ty} WHERE <key range>;\n-- then, in one short migration: drop the trigger, rename {column} away and {column}_new to {column}"
        ),
    )
}

/// The last segment of a possibly qualified, possibly quoted name.
pub(super) fn bare(name: &str) -> String {
    name.rsplit('.').next().unwrap_or(name).trim().trim_matches('"').to_string()
}

pub(super) fn has_token(node: &SyntaxNode, kind: SyntaxKind) -> bool {
    node.descendants_with_tokens().any(|t| t.kind() == kind)
}

/// Where `token` ends, relative to the start of `node`.
fn rel_end(node: &SyntaxNode, token: &squawk_syntax::SyntaxToken) -> usize {
    usize::from(token.text_range().end()) - usize::from(node.text_range().start())
}

/// `text` with each `(offset, insertion)` inserted; offsets are into the original text, and insertions at one
/// offset keep their order.
fn apply(text: &str, edits: &[(usize, String)]) -> String {
    let mut sorted: Vec<&(usize, String)> = edits.iter().filter(|(at, _)| text.is_char_boundary(*at)).collect();
    sorted.sort_by_key(|(at, _)| *at);
    let (mut out, mut from) = (String::with_capacity(text.len() + 32), 0);
    for (at, insert) in sorted {
        out.push_str(&text[from..*at]);
        out.push_str(insert);
        from = *at;
    }
    out.push_str(&text[from..]);
    out
}

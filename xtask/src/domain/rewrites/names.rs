//! What a split-off part holds, said from its first statement: a short name for its file
//! (`index_contacts_email_idx`, `validate_contacts_org_fk`) and the words its header uses (`VALIDATE CONSTRAINT
//! contacts_org_fk`). Two parts of one file never share a name, so their files say apart what each holds.

use std::collections::BTreeSet;

use squawk_syntax::SyntaxKind;
use squawk_syntax::ast::{self, AstNode};

use super::cases::{bare, has_token};
use crate::domain::history::migrations::snake_case;

/// A file name's part is cut here, as `cargo xtask new` cuts a name.
const MAX_NAME: usize = 60;

/// What a part holds, from its first statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holds {
    /// For the file name: lower-case words joined by `_`.
    pub name: String,
    /// For the header: the statement's kind and object, as SQL names them.
    pub what: String,
}

/// The first statement's kind and object; a statement without a known kind is named by its first words.
pub fn holds(stmt: &ast::Stmt, text: &str) -> Holds {
    use ast::Stmt as S;
    let named = |what: String, name: String| Holds { name: file_name_part(&name), what };
    match stmt {
        S::CreateIndex(s) if s.index().is_some() => {
            let index = s.index().map(|i| i.syntax().text().to_string()).unwrap_or_default();
            let unique = if has_token(s.syntax(), SyntaxKind::UNIQUE_KW) { "unique " } else { "" };
            named(format!("CREATE {}INDEX {index}", unique.to_uppercase()), format!("{unique}index {}", bare(&index)))
        }
        S::DropIndex(s) if s.index_refs().count() == 1 => {
            let index = s.index_refs().map(|i| i.syntax().text().to_string()).collect::<String>();
            named(format!("DROP INDEX {index}"), format!("drop index {}", bare(&index)))
        }
        S::Reindex(_) => {
            // `REINDEX [(options)] INDEX|TABLE|SCHEMA [CONCURRENTLY] name`: the kind and the name.
            let words: Vec<&str> = words(text).filter(|w| !w.eq_ignore_ascii_case("concurrently")).collect();
            match words.as_slice() {
                [_, kind, name, ..] if !kind.contains(')') => {
                    named(format!("REINDEX {} {name}", kind.to_uppercase()), format!("reindex {}", bare(name)))
                }
                _ => first_words(text),
            }
        }
        S::AlterTable(s) => alter_table(s).unwrap_or_else(|| first_words(text)),
        S::CreateTable(s) if s.table_name().is_some() => {
            let table = s.table_name().map(|t| t.syntax().text().to_string()).unwrap_or_default();
            named(format!("CREATE TABLE {table}"), format!("create table {}", bare(&table)))
        }
        _ => first_words(text),
    }
}

/// An `ALTER TABLE` by its first action: the constraint it adds or validates, the column it sets NOT NULL.
fn alter_table(s: &ast::AlterTable) -> Option<Holds> {
    let table = s.table_relation_name().map(|t| t.syntax().text().to_string())?;
    let action = s.actions().next()?;
    let constraint = || {
        action.syntax().descendants().find(|n| n.kind() == SyntaxKind::CONSTRAINT_NAME).map(|n| n.text().to_string())
    };
    let (what, name) = match &action {
        ast::AlterTableAction::ValidateConstraint(v) => {
            let name = v.constraint_name_ref()?.syntax().text().to_string();
            (format!("VALIDATE CONSTRAINT {name}"), format!("validate {}", bare(&name)))
        }
        ast::AlterTableAction::AddConstraint(_) => {
            let name = constraint()?;
            (format!("ADD CONSTRAINT {name}"), format!("add {}", bare(&name)))
        }
        ast::AlterTableAction::AlterColumn(a) if matches!(a.option()?, ast::AlterColumnOption::SetNotNull(_)) => {
            let column = a.column_name_ref()?.syntax().text().to_string();
            (format!("SET NOT NULL on {table}.{column}"), format!("set not null {}", bare(&column)))
        }
        _ => (format!("ALTER TABLE {table}"), format!("alter {}", bare(&table))),
    };
    Some(Holds { name: file_name_part(&name), what })
}

/// A statement of another kind: its first four words (a name without its schema), as written.
fn first_words(text: &str) -> Holds {
    let words: Vec<&str> = words(text).take(4).collect();
    let name = words.iter().map(|w| bare(w)).collect::<Vec<_>>().join(" ");
    Holds { name: file_name_part(&name), what: format!("`{}`", words.join(" ")) }
}

/// The statement's words: what whitespace, `(` and `;` separate.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c.is_whitespace() || c == '(' || c == ';').filter(|w| !w.is_empty())
}

/// `name` as a migration's name allows (`[a-z0-9_]`), cut at `MAX_NAME`; `part` when nothing is left.
fn file_name_part(name: &str) -> String {
    let name = snake_case(name).chars().take(MAX_NAME).collect::<String>().trim_matches('_').to_string();
    if name.is_empty() { "part".to_string() } else { name }
}

/// `name`, or `name_2`, `name_3`, ... when an earlier part of the file took it.
pub fn unique(name: String, taken: &mut BTreeSet<String>) -> String {
    let name = (1..)
        .map(|n| if n == 1 { name.clone() } else { format!("{name}_{n}") })
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or(name);
    taken.insert(name.clone());
    name
}

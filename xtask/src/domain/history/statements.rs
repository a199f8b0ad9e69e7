//! Whether what a database ran is what a migration file says. The CLI stores each statement of a pushed file in
//! `supabase_migrations.schema_migrations.statements`, as written (comments included) and trimmed, without its
//! `;`. So a file and its stored statements agree exactly when they are equal once whitespace and `;` are
//! taken out: the fingerprint. The same normalisation is computed in SQL (`FINGERPRINT_SQL`), so a history is
//! compared without fetching its statements; only a file that differs has them fetched, to name the first one.

use sha2::{Digest, Sha256};

/// What is left out on both sides: ASCII whitespace and `;` (an explicit set, so Postgres and Rust agree).
fn kept(c: char) -> bool {
    !matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0B' | '\x0C' | ';')
}

fn normalise(text: &str) -> String {
    text.chars().filter(|c| kept(*c)).collect()
}

/// The fingerprint of a file's text, or of its stored statements joined.
pub fn fingerprint(text: &str) -> String {
    crate::domain::history::migrations::hex(&Sha256::digest(normalise(text).as_bytes()))
}

/// `fingerprint` in SQL, over `statements` (NULL when none are stored), for the history queries.
pub const FINGERPRINT_SQL: &str = "case when coalesce(cardinality(statements), 0) = 0 then null \
     else encode(sha256(convert_to(regexp_replace(array_to_string(statements, ''), '[ \\t\\n\\r\\v\\f;]', '', 'g'), 'UTF8')), 'hex') end";

/// One applied file against the database's record of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Same,
    /// Applied before the CLI stored statements (an empty array): nothing to compare with.
    Unverifiable,
    /// The first stored statement (1-based) the file does not have at that place, and its text; past the end of
    /// the stored ones when the file has more.
    Differs {
        statement: usize,
        live: Option<String>,
    },
}

/// Compares a file with its stored fingerprint, or (when `statements` are given) names the first difference.
pub fn judge(text: &str, stored: Option<&str>) -> Verdict {
    match stored {
        None => Verdict::Unverifiable,
        Some(fp) if fp == fingerprint(text) => Verdict::Same,
        Some(_) => Verdict::Differs { statement: 0, live: None },
    }
}

/// The first stored statement that is not the file's next text.
pub fn first_difference(text: &str, statements: &[String]) -> Verdict {
    let file = normalise(text);
    let mut rest = file.as_str();
    for (i, statement) in statements.iter().enumerate() {
        let live = normalise(statement);
        match rest.strip_prefix(live.as_str()) {
            Some(after) => rest = after,
            None => return Verdict::Differs { statement: i + 1, live: Some(statement.clone()) },
        }
    }
    if rest.is_empty() { Verdict::Same } else { Verdict::Differs { statement: statements.len() + 1, live: None } }
}

/// How people read a difference: which statement, and what the database ran.
pub fn describe(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Same => "the same statements".into(),
        Verdict::Unverifiable => "applied before the CLI stored statements: cannot be verified".into(),
        Verdict::Differs { statement: 0, .. } => "the database ran other statements".into(),
        Verdict::Differs { statement, live: Some(live) } => {
            let short: String = live.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(120).collect();
            format!("statement {statement} the database ran is not the file's: `{short}`")
        }
        Verdict::Differs { statement, live: None } => {
            format!("the file has more than the {} statement(s) the database ran", statement - 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "-- the table\ncreate table t (id int);\n\ninsert into t values (1);\n";

    #[test]
    fn stored_statements_match_their_file_whitespace_and_semicolons_aside() {
        let stored = vec!["-- the table\ncreate table t (id int)".to_string(), "insert into t values (1)".into()];
        assert_eq!(first_difference(FILE, &stored), Verdict::Same);
        assert_eq!(judge(FILE, Some(&fingerprint(&stored.join(";")))), Verdict::Same);
        assert_eq!(judge(FILE, None), Verdict::Unverifiable);
    }

    #[test]
    fn the_first_differing_statement_is_named() {
        let stored = vec!["-- the table\ncreate table t (id int)".to_string(), "insert into t values (2)".into()];
        let verdict = first_difference(FILE, &stored);
        assert_eq!(verdict, Verdict::Differs { statement: 2, live: Some("insert into t values (2)".into()) });
        assert_eq!(describe(&verdict), "statement 2 the database ran is not the file's: `insert into t values (2)`");
        let fewer = first_difference(FILE, &stored[..1]);
        assert_eq!(describe(&fewer), "the file has more than the 1 statement(s) the database ran");
        assert!(matches!(judge(FILE, Some("00")), Verdict::Differs { .. }));
    }
}

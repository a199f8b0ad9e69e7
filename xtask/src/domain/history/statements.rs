//! Whether what a database ran is what a migration file says. The CLI stores each statement of a pushed file in
//! `supabase_migrations.schema_migrations.statements`, as written (comments included) and trimmed, without its
//! `;`. So a file and its stored statements agree when they are equal once whitespace and `;` are taken out: the
//! fingerprint. The same normalisation is computed in SQL (`FINGERPRINT_SQL`), so a history is compared without
//! fetching its statements. Only a file whose fingerprint differs has them fetched, and is then compared with
//! comments taken out too, by squawk's lexer (it knows string literals and dollar quotes, so a `--` inside a
//! string is no comment): a comment added to an applied file, or edited, is no difference. A comment inside a
//! dollar-quoted function body is part of the function's source (Postgres keeps it, in `pg_proc.prosrc`), so it
//! counts.

use sha2::{Digest, Sha256};
use squawk_lexer::{TokenKind, tokenize};

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
    /// The first stored statement (1-based) the file does not have at that place: what the database ran there
    /// (none past the end of the stored ones, when the file has more) and what the file has there (none when
    /// it has fewer), comments out. Statement 0: the statements could not be fetched to say which.
    Differs {
        statement: usize,
        live: Option<String>,
        file: Option<String>,
    },
}

/// Compares a file with its stored fingerprint, or (when `statements` are given) names the first difference.
pub fn judge(text: &str, stored: Option<&str>) -> Verdict {
    match stored {
        None => Verdict::Unverifiable,
        Some(fp) if fp == fingerprint(text) => Verdict::Same,
        Some(_) => Verdict::Differs { statement: 0, live: None, file: None },
    }
}

/// A file's tokens: what each leaves for the comparison (whitespace and `;` out), where it is, and whether it
/// ends a statement.
struct Token {
    kept: String,
    range: std::ops::Range<usize>,
    semi: bool,
}

/// A text's tokens but its comments and whitespace.
fn tokens(text: &str) -> Vec<Token> {
    let mut at = 0;
    let mut out = Vec::new();
    for token in tokenize(text) {
        let range = at..at + token.len as usize;
        at = range.end;
        let semi = token.kind == TokenKind::Semi;
        let kept = match token.kind {
            TokenKind::LineComment | TokenKind::BlockComment { .. } | TokenKind::Whitespace => continue,
            _ => normalise(&text[range.clone()]),
        };
        out.push(Token { kept, range, semi });
    }
    out
}

fn comparable(text: &str) -> String {
    tokens(text).into_iter().map(|t| t.kept).collect()
}

/// The first stored statement that is not the file's next text, comments aside on both sides.
pub fn first_difference(text: &str, statements: &[String]) -> Verdict {
    let file = tokens(text);
    let joined: String = file.iter().map(|t| t.kept.as_str()).collect();
    let mut done = 0;
    for (i, statement) in statements.iter().enumerate() {
        let live = comparable(statement);
        if !joined[done..].starts_with(live.as_str()) {
            let file = statement_at(text, &file, done);
            return Verdict::Differs { statement: i + 1, live: Some(without_comments(statement)), file };
        }
        done += live.len();
    }
    if done == joined.len() {
        Verdict::Same
    } else {
        Verdict::Differs { statement: statements.len() + 1, live: None, file: statement_at(text, &file, done) }
    }
}

/// The line where the statement the CLI's error names ("At statement: N", counted from 0 as it splits the file)
/// starts in `text`, so a failure names the file's line, not only its statement's number.
pub fn failed_line(text: &str, cli_error: &str) -> Option<usize> {
    let digits = cli_error.split("At statement: ").nth(1)?;
    let index: usize = digits.chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()?;
    let mut semis = 0;
    for token in tokens(text) {
        if token.semi {
            semis += 1;
        } else if semis == index {
            return Some(text[..token.range.start].matches('\n').count() + 1);
        }
    }
    None
}

/// The file's statement holding the normalised offset `at`: from that token to the next `;` token, comments out.
fn statement_at(text: &str, file: &[Token], at: usize) -> Option<String> {
    let mut seen = 0;
    let first = file.iter().position(|t| {
        seen += t.kept.len();
        seen > at
    })?;
    let end = file[first..].iter().find(|t| t.semi).map_or(text.len(), |t| t.range.start);
    Some(without_comments(&text[file[first].range.start..end]))
}

/// A statement on one line, comments out, whitespace runs as one space.
fn without_comments(statement: &str) -> String {
    let mut at = 0;
    let mut out = String::new();
    for token in tokenize(statement) {
        let range = at..at + token.len as usize;
        at = range.end;
        match token.kind {
            TokenKind::LineComment | TokenKind::BlockComment { .. } => out.push(' '),
            _ => out.push_str(&statement[range]),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ").trim_end_matches(';').trim_end().to_string()
}

/// How much of a statement a message shows.
const SHOWN_CHARS: usize = 120;

/// Both sides as a message shows them: from a few words before the first word they differ in when that is far
/// in (a long CREATE TABLE whose last column changed), each cut after a whole word.
fn shown_pair(live: Option<&str>, file: Option<&str>) -> (Option<String>, Option<String>) {
    let (l, f) = (words(live), words(file));
    let common = l.iter().zip(&f).take_while(|(a, b)| a == b).count();
    let before: usize = l[..common].iter().map(|w| w.chars().count() + 1).sum();
    let from = if live.is_some() && file.is_some() && before > SHOWN_CHARS / 2 { common.saturating_sub(4) } else { 0 };
    let show = |words: &[&str], whole: Option<&str>| whole.map(|_| shortened(&words[from..], from > 0));
    (show(&l, live), show(&f, file))
}

fn words(statement: Option<&str>) -> Vec<&str> {
    statement.map(|s| s.split(' ').collect()).unwrap_or_default()
}

fn shortened(words: &[&str], skipped: bool) -> String {
    let mut out = if skipped { "… ".to_string() } else { String::new() };
    for (i, word) in words.iter().enumerate() {
        if i > 0 && out.chars().count() + 1 + word.chars().count() > SHOWN_CHARS {
            out.push_str(" …");
            break;
        }
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// How people read a difference: which statement, and each side on its own line (so no quoting is needed: a
/// statement may hold backticks or quotes of its own).
pub fn describe(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Same => "the same statements".into(),
        Verdict::Unverifiable => "applied before the CLI stored statements: cannot be verified".into(),
        Verdict::Differs { statement: 0, .. } => "the database ran other statements".into(),
        Verdict::Differs { statement, live, file } => {
            let before = statement - 1;
            match shown_pair(live.as_deref(), file.as_deref()) {
                (Some(live), Some(file)) => format!(
                    "statement {statement} differs:\n    the database ran: {live}\n    the file has:     {file}"
                ),
                (None, Some(file)) => format!(
                    "the file has more than the {before} statement(s) the database ran:\n    the file has:     {file}"
                ),
                (Some(live), None) => format!(
                    "the database ran more than the file's {before} statement(s):\n    the database ran: {live}"
                ),
                (None, None) => "the database ran other statements".into(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "-- the table\ncreate table t (id int);\n\ninsert into t values (1);\n";

    fn stored(statements: &[&str]) -> Vec<String> {
        statements.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn stored_statements_match_their_file_whitespace_and_semicolons_aside() {
        let stored = stored(&["-- the table\ncreate table t (id int)", "insert into t values (1)"]);
        assert_eq!(first_difference(FILE, &stored), Verdict::Same);
        assert_eq!(judge(FILE, Some(&fingerprint(&stored.join(";")))), Verdict::Same);
        assert_eq!(judge(FILE, None), Verdict::Unverifiable);
    }

    #[test]
    fn a_comment_added_or_changed_is_no_difference() {
        let stored = stored(&["-- the table\ncreate table t (id int)", "insert into t values (1)"]);
        let acked = format!("-- xtask: ack destructive: reviewed\n{FILE}");
        assert!(matches!(judge(&acked, Some(&fingerprint(&stored.join(";")))), Verdict::Differs { .. }));
        assert_eq!(first_difference(&acked, &stored), Verdict::Same);
        let changed = FILE.replace("-- the table", "/* the table, /* nested */ renamed */");
        assert_eq!(first_difference(&changed, &stored), Verdict::Same);
        let trailing = FILE.replace("(1);", "(1); -- one row");
        assert_eq!(first_difference(&trailing, &stored), Verdict::Same);
    }

    #[test]
    fn a_double_dash_inside_a_string_is_no_comment() {
        let stored = stored(&["insert into t values ('a -- b')"]);
        assert_eq!(first_difference("insert into t values ('a -- b');\n", &stored), Verdict::Same);
        let verdict = first_difference("insert into t values ('a -- c');\n", &stored);
        assert_eq!(
            verdict,
            Verdict::Differs {
                statement: 1,
                live: Some("insert into t values ('a -- b')".into()),
                file: Some("insert into t values ('a -- c')".into()),
            }
        );
    }

    #[test]
    fn a_comment_inside_a_dollar_quoted_body_is_the_functions_source() {
        let function = |comment: &str| {
            format!("create function f() returns int language plpgsql as $$\nbegin\n  {comment}\n  return 1;\nend $$")
        };
        let stored = vec![function("-- one")];
        assert_eq!(first_difference(&format!("{};\n", function("-- one")), &stored), Verdict::Same);
        let verdict = first_difference(&format!("{};\n", function("-- two")), &stored);
        assert!(matches!(verdict, Verdict::Differs { statement: 1, .. }), "{verdict:?}");
    }

    #[test]
    fn a_real_change_shows_both_statements() {
        let stored = stored(&["-- the table\ncreate table t (id int)", "insert into t values (2)"]);
        let verdict = first_difference(FILE, &stored);
        assert_eq!(
            verdict,
            Verdict::Differs {
                statement: 2,
                live: Some("insert into t values (2)".into()),
                file: Some("insert into t values (1)".into()),
            }
        );
        expect_test::expect![[r#"
            statement 2 differs:
                the database ran: insert into t values (2)
                the file has:     insert into t values (1)"#]]
        .assert_eq(&describe(&verdict));

        let fewer = first_difference(FILE, &stored[..1]);
        expect_test::expect![[r#"
            the file has more than the 1 statement(s) the database ran:
                the file has:     insert into t values (1)"#]]
        .assert_eq(&describe(&fewer));
        let more = first_difference("create table t (id int);", &stored);
        assert_eq!(more, Verdict::Differs { statement: 2, live: Some("insert into t values (2)".into()), file: None });
        expect_test::expect![[r#"
            the database ran more than the file's 1 statement(s):
                the database ran: insert into t values (2)"#]]
        .assert_eq(&describe(&more));
        assert!(matches!(judge(FILE, Some("00")), Verdict::Differs { .. }));
    }

    #[test]
    fn a_statement_with_backticks_and_a_long_one_keep_their_words_whole() {
        let stored = stored(&["comment on table t is 'the `t` table'"]);
        let verdict = first_difference("comment on table t is 'the `u` table';", &stored);
        expect_test::expect![[r#"
            statement 1 differs:
                the database ran: comment on table t is 'the `t` table'
                the file has:     comment on table t is 'the `u` table'"#]]
        .assert_eq(&describe(&verdict));

        let columns: Vec<String> = (1..=30).map(|i| format!("column_{i} int")).collect();
        let long = format!("create table wide ({})", columns.join(", "));
        let verdict = first_difference(&format!("{long};"), &[long.replace("column_30", "column_31")]);
        expect_test::expect![[r#"
            statement 1 differs:
                the database ran: … column_28 int, column_29 int, column_31 int)
                the file has:     … column_28 int, column_29 int, column_30 int)"#]]
        .assert_eq(&describe(&verdict));
    }

    #[test]
    fn a_failed_statement_is_found_at_its_line() {
        let text = "-- a comment; with a semicolon\ncreate table a (id int);\n\ndo $$ begin perform 1; end $$;\n\n  alter table auth.users\n    add column x int;\n";
        let error = "ERROR: must be owner of table users (SQLSTATE 42501)\nAt statement: 2\nalter table auth.users";
        assert_eq!(failed_line(text, error), Some(6));
        assert_eq!(failed_line(text, "At statement: 0"), Some(2));
        assert_eq!(failed_line(text, "At statement: 9"), None);
        assert_eq!(failed_line(text, "no statement named"), None);
    }
}

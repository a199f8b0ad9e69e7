//! squawk's parse errors in the words Postgres uses: `syntax error at or near "tabel"` (or `at end of input`),
//! then what was expected, squawk's token names (`L_PAREN`, `CREATE_KW`, `IDENT`) translated. The word is found
//! by lexing from the error's offset, so a word inside a function body squawk parsed is found too. Pure.

use squawk_lexer::{TokenKind, tokenize};

/// Words that begin a command. squawk names a statement it cannot read at all by its first word ("expected
/// command, found CREATE_KW"); Postgres names the word after it that fits no command, and so do we.
const COMMAND_WORDS: &[&str] = &[
    "ABORT",
    "ALTER",
    "ANALYSE",
    "ANALYZE",
    "BEGIN",
    "CALL",
    "CHECKPOINT",
    "CLOSE",
    "CLUSTER",
    "COMMENT",
    "COMMIT",
    "COPY",
    "CREATE",
    "DEALLOCATE",
    "DECLARE",
    "DELETE",
    "DISCARD",
    "DO",
    "DROP",
    "END",
    "EXECUTE",
    "EXPLAIN",
    "FETCH",
    "GRANT",
    "IMPORT",
    "INSERT",
    "LISTEN",
    "LOAD",
    "LOCK",
    "MERGE",
    "MOVE",
    "NOTIFY",
    "PREPARE",
    "REASSIGN",
    "REFRESH",
    "REINDEX",
    "RELEASE",
    "RESET",
    "REVOKE",
    "ROLLBACK",
    "SAVEPOINT",
    "SECURITY",
    "SELECT",
    "SET",
    "SHOW",
    "START",
    "TRUNCATE",
    "UNLISTEN",
    "UPDATE",
    "VACUUM",
    "VALUES",
    "WITH",
];

/// squawk's punctuation tokens, as written.
const SYMBOLS: &[(&str, &str)] = &[
    ("SEMICOLON", ";"),
    ("COMMA", ","),
    ("L_PAREN", "("),
    ("R_PAREN", ")"),
    ("L_BRACK", "["),
    ("R_BRACK", "]"),
    ("L_CURLY", "{"),
    ("R_CURLY", "}"),
    ("L_ANGLE", "<"),
    ("R_ANGLE", ">"),
    ("LTEQ", "<="),
    ("GTEQ", ">="),
    ("NEQ", "!="),
    ("NEQB", "<>"),
    ("EQ", "="),
    ("FAT_ARROW", "=>"),
    ("COLON_EQ", ":="),
    ("DOT", "."),
    ("DOT_DOT", ".."),
    ("COLON", ":"),
    ("DOLLAR", "$"),
    ("STAR", "*"),
    ("PLUS", "+"),
    ("MINUS", "-"),
    ("SLASH", "/"),
    ("PERCENT", "%"),
    ("CARET", "^"),
    ("PIPE", "|"),
    ("AMP", "&"),
    ("AT", "@"),
    ("POUND", "#"),
    ("TILDE", "~"),
    ("BANG", "!"),
    ("QUESTION", "?"),
];

/// squawk's other token names, as a person says them.
const TOKENS: &[(&str, &str)] = &[
    ("IDENT", "a name"),
    ("STRING", "a string"),
    ("ESC_STRING", "a string"),
    ("DOLLAR_QUOTED_STRING", "a string"),
    ("INT_NUMBER", "a number"),
    ("NUMERIC_NUMBER", "a number"),
    ("POSITIONAL_PARAM", "a parameter ($1)"),
    ("EOF", "the end of the input"),
];

/// The errors worth reporting, each as the byte offset of the word it names and its message: the first of each
/// statement (squawk recovers token by token, so one typo would otherwise yield a cascade; Postgres stops at the
/// first). `errors` are squawk's, in order: offset and message.
pub fn explain<'a>(text: &str, errors: impl IntoIterator<Item = (usize, &'a str)>) -> Vec<(usize, String)> {
    let ends = statement_ends(text);
    let mut last = None;
    let mut out = Vec::new();
    for (offset, message) in errors {
        let statement = ends.partition_point(|&end| end < offset);
        if last != Some(statement) {
            last = Some(statement);
            out.push(explain_one(text, offset, message));
        }
    }
    out
}

/// Where each statement ends: the offsets of the `;` tokens (one inside a string or comment is none).
fn statement_ends(text: &str) -> Vec<usize> {
    let mut at = 0;
    let mut ends = Vec::new();
    for token in tokenize(text) {
        if token.kind == TokenKind::Semi {
            ends.push(at);
        }
        at += token.len as usize;
    }
    ends
}

fn explain_one(text: &str, offset: usize, message: &str) -> (usize, String) {
    let (expected, found) = match message.rsplit_once(", found ").or_else(|| message.rsplit_once(", got ")) {
        Some((expected, found)) => (expected, Some(found)),
        None => (message, None),
    };
    let unknown_command = (expected == "expected command")
        .then(|| found.and_then(|f| f.strip_suffix("_KW")))
        .flatten()
        .filter(|word| COMMAND_WORDS.contains(word));
    let words = words_from(text, offset, 2);
    let near = if unknown_command.is_some() { words.get(1) } else { words.first() };
    let place = match near {
        Some((_, word)) => format!("at or near \"{}\"", shown(word)),
        None => "at end of input".to_string(),
    };
    let why = match unknown_command {
        Some(command) => format!("not a {command} command"),
        None => in_words(expected),
    };
    (near.map_or(offset, |(at, _)| *at), format!("syntax error {place}: {why}"))
}

/// Up to `n` tokens from `offset` on, comments and whitespace aside: each its offset and text.
fn words_from(text: &str, offset: usize, n: usize) -> Vec<(usize, &str)> {
    let Some(rest) = text.get(offset..) else { return Vec::new() };
    let mut at = offset;
    let mut out = Vec::new();
    for token in tokenize(rest) {
        let len = token.len as usize;
        if !matches!(token.kind, TokenKind::Whitespace | TokenKind::LineComment | TokenKind::BlockComment { .. }) {
            out.push((at, &text[at..at + len]));
            if out.len() == n {
                break;
            }
        }
        at += len;
    }
    out
}

/// A word as a message shows it: its first line, at most 40 characters (a string literal can be a page).
fn shown(word: &str) -> String {
    let line = word.lines().next().unwrap_or_default();
    if line.chars().count() > 40 || line.len() < word.trim_end().len() {
        format!("{}…", line.chars().take(40).collect::<String>())
    } else {
        line.to_string()
    }
}

/// squawk's expectation in words: `expected L_PAREN` is "expected `(`", `expected name` "expected a name".
fn in_words(expected: &str) -> String {
    // A grammar rule's name squawk lets slip (`expected expression in tuple_expr`) says nothing to a person.
    let expected = match expected.rsplit_once(" in ") {
        Some((head, rule)) if is_rule_name(rule) => head,
        _ => expected,
    };
    let words: Vec<String> = expected
        .split(' ')
        .map(|w| {
            let core = w.trim_end_matches([',', ':']);
            format!("{}{}", token_in_words(core), &w[core.len()..])
        })
        .collect();
    let mut text = words.join(" ").replace("path name", "name");
    // squawk writes "expected expression", "expected type name": a person reads an article there.
    if let Some(rest) = text.strip_prefix("expected ")
        && rest.starts_with(|c: char| c.is_ascii_lowercase())
        && !["a ", "an ", "the ", "end "].iter().any(|a| rest.starts_with(a))
    {
        let article = if rest.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
        text = format!("expected {article} {rest}");
    }
    match text.chars().next() {
        Some(first) => first.to_lowercase().chain(text.chars().skip(1)).collect(),
        None => text,
    }
}

fn is_rule_name(word: &str) -> bool {
    word.contains('_') && word.chars().all(|c| c.is_ascii_lowercase() || c == '_')
}

fn token_in_words(name: &str) -> String {
    if let Some(keyword) = name.strip_suffix("_KW").filter(|k| !k.is_empty() && is_token_name(k)) {
        return keyword.to_string();
    }
    if let Some((_, symbol)) = SYMBOLS.iter().find(|(n, _)| *n == name) {
        return format!("`{symbol}`");
    }
    match TOKENS.iter().find(|(n, _)| *n == name) {
        Some((_, words)) => words.to_string(),
        None => name.to_string(),
    }
}

fn is_token_name(name: &str) -> bool {
    name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each input's reported errors, as `offset: message` lines.
    fn explained(sql: &str) -> String {
        let parse = squawk_syntax::SourceFile::parse(sql);
        let errors = parse.errors();
        let raw = errors.iter().map(|e| (usize::from(e.range().start()), e.message()));
        explain(sql, raw).iter().map(|(at, message)| format!("{at}: {message}\n")).collect()
    }

    #[test]
    fn a_misspelled_keyword_is_named_as_postgres_names_it() {
        assert_eq!(
            explained("create tabel foo (id int);"),
            "7: syntax error at or near \"tabel\": not a CREATE command\n"
        );
        assert_eq!(explained("selec 1;"), "0: syntax error at or near \"selec\": expected a command\n");
        assert_eq!(
            explained("create or replace functoin f() returns int language sql as $$ select 1 $$;"),
            "18: syntax error at or near \"functoin\": expected FUNCTION\n"
        );
    }

    #[test]
    fn a_missing_parenthesis_and_a_missing_expression() {
        assert_eq!(explained("create table t (id int;"), "22: syntax error at or near \";\": expected `)`\n");
        assert_eq!(
            explained("select 1 from t where a = ;"),
            "26: syntax error at or near \";\": expected an expression\n"
        );
        assert_eq!(explained("alter table t add column;"), "24: syntax error at or near \";\": expected a name\n");
    }

    #[test]
    fn a_trailing_word_after_a_statement() {
        assert_eq!(explained("select 1; garbage"), "10: syntax error at or near \"garbage\": expected a command\n");
        assert_eq!(
            explained("create table t (id int) foo;"),
            "24: syntax error at or near \"foo\": expected a command\n"
        );
    }

    #[test]
    fn the_end_of_the_input() {
        assert_eq!(explained("create index on t (a"), "20: syntax error at end of input: expected `)`\n");
        assert_eq!(explained("create"), "0: syntax error at end of input: not a CREATE command\n");
    }

    #[test]
    fn one_error_per_statement_however_long_the_cascade() {
        let sql = "create tabel foo (\n  id int\n);\nselect 1;\ndrop tabel bar;\n";
        assert_eq!(
            explained(sql),
            "7: syntax error at or near \"tabel\": not a CREATE command\n\
             46: syntax error at or near \"tabel\": not a DROP command\n"
        );
    }

    #[test]
    fn words_inside_a_function_body_and_unterminated_strings() {
        assert_eq!(
            explained("create function f() returns int language sql as $$ selec 1 $$;"),
            "51: syntax error at or near \"selec\": expected a command\n"
        );
        let unterminated = explained("select 'abc\ndef");
        assert_eq!(
            unterminated,
            "7: syntax error at or near \"'abc…\": missing trailing `'` symbol to terminate the string literal\n"
        );
    }

    #[test]
    fn token_names_in_words() {
        assert_eq!(in_words("expected R_PAREN"), "expected `)`");
        assert_eq!(in_words("expected IDENT"), "expected a name");
        assert_eq!(in_words("expected INDEX_KW"), "expected INDEX");
        assert_eq!(in_words("expected expression in tuple_expr"), "expected an expression");
        assert_eq!(in_words("expected INNER, OUTER, CROSS, or UNION"), "expected INNER, OUTER, CROSS, or UNION");
        assert_eq!(in_words("expected path name"), "expected a name");
    }
}

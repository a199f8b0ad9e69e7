//! Words that cannot rot: every `*.rs` path README.md and docs/design.md write in backquotes is a file, and every
//! `domain::…`/`edges::…` path a comment names is a module, or an item declared in one. Code moves; the comments
//! and docs that point at it are what a reader follows, and nothing else notices when they point nowhere.

use std::collections::BTreeMap;
use std::path::Path;

use super::{modules, repo_root, src_dir};

/// Every backquoted `*.rs` path of a document (a `:line` suffix dropped; patterns such as `*.rs` are not paths),
/// with its line: the paths a reader follows to the code. The Supabase CLI's own files (`supabase/...`) are
/// another repository's.
fn rs_paths(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for span in line.split('`').skip(1).step_by(2) {
            let path = span.trim().trim_end_matches(|c: char| c.is_ascii_digit() || c == ':');
            let pattern = path.contains(['*', '<', '{']) || path.contains(char::is_whitespace);
            if path.ends_with(".rs") && !pattern && !path.starts_with("supabase/") {
                out.push((i + 1, path.to_string()));
            }
        }
    }
    out
}

/// Where a document's path may start: the repository's top, `xtask/src/` (as "Where to look" writes them), or
/// `xtask/tests/`.
fn rs_path_exists(path: &str) -> bool {
    [repo_root(), src_dir(), repo_root().join("xtask/tests")].iter().any(|root| root.join(path).is_file())
}

/// Every backquoted `*.rs` path of README.md and docs/design.md is a file.
#[test]
fn every_rs_path_the_docs_name_is_a_file() {
    let mut offenders = Vec::new();
    let mut seen = 0;
    for doc in ["README.md", "docs/design.md"] {
        let text = std::fs::read_to_string(repo_root().join(doc)).unwrap();
        for (line, path) in rs_paths(&text) {
            seen += 1;
            if !rs_path_exists(&path) {
                offenders.push(format!("{doc}:{line}: `{path}` is not a file"));
            }
        }
    }
    assert!(seen > 50, "only {seen} `*.rs` paths found in the docs: the finder is broken");
    assert!(offenders.is_empty(), "point these at the code as it is now:\n{}", offenders.join("\n"));
}

/// The comment of a line: a whole-line `//`, `///` or `//!`, or what follows `//` outside a string literal.
fn comment(line: &str) -> Option<&str> {
    let mut in_string = false;
    let mut escaped = false;
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if in_string => escaped = true,
            b'"' => in_string = !in_string,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return Some(&line[i..]),
            _ => {}
        }
    }
    None
}

/// The `domain::…`/`edges::…` paths a comment names (`crate::` or not); `a::{b, c}` names `a::b` and `a::c`.
fn named_paths(comment: &str) -> Vec<String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = Vec::new();
    for layer in ["domain::", "edges::"] {
        for (at, _) in comment.match_indices(layer) {
            if comment[..at].ends_with(ident) {
                continue;
            }
            let rest = &comment[at..];
            let end = rest.find(|c: char| !(ident(c) || c == ':')).unwrap_or(rest.len());
            let path = rest[..end].trim_end_matches(':');
            match rest[end..].strip_prefix('{').filter(|_| rest[..end].ends_with("::")) {
                Some(group) => {
                    let items = &group[..group.find('}').unwrap_or(group.len())];
                    out.extend(items.split(',').map(|item| format!("{path}::{}", item.trim())));
                }
                None => out.push(path.to_string()),
            }
        }
    }
    out
}

/// Whether `text` (a module's source) declares `name`: `fn|struct|enum|trait|type|const|static|mod name`, or a
/// `pub use` that re-exports it.
fn declares(text: &str, name: &str) -> bool {
    const KEYWORDS: [&str; 8] = ["fn", "struct", "enum", "trait", "type", "const", "static", "mod"];
    text.lines().map(str::trim_start).filter(|line| !line.starts_with("//")).any(|line| {
        let tokens: Vec<&str> =
            line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|t| !t.is_empty()).collect();
        let declared = tokens.windows(2).any(|w| KEYWORDS.contains(&w[0]) && w[1] == name);
        let reexported = tokens.starts_with(&["pub", "use"]) && tokens.contains(&name);
        declared || reexported
    })
}

/// Why `path` does not resolve against `modules` (module path -> source), or `None` when it does: the longest
/// prefix that is a module, then the next segment declared in it; a segment after that (a method, a variant) is
/// named in that module.
fn unresolved(path: &str, modules: &BTreeMap<String, String>) -> Option<String> {
    let segments: Vec<&str> = path.split("::").collect();
    let Some(module) = (1..=segments.len()).rev().map(|n| segments[..n].join("::")).find(|m| modules.contains_key(m))
    else {
        return Some("no such module".to_string());
    };
    let rest = &segments[module.split("::").count()..];
    let text = &modules[&module];
    match rest {
        [] => None,
        [item, ..] if !declares(text, item) => Some(format!("`{module}` declares no `{item}`")),
        [_, member, ..] if !text.contains(member) => Some(format!("`{module}` never names `{member}`")),
        _ => None,
    }
}

/// Every offending comment path of one file: `file:line: path (why)`.
fn offenders(file: &str, text: &str, modules: &BTreeMap<String, String>, seen: &mut usize) -> Vec<String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for path in comment(line).map(named_paths).unwrap_or_default() {
            *seen += 1;
            out.extend(unresolved(&path, modules).map(|why| format!("{file}:{}: {path} ({why})", i + 1)));
        }
    }
    out
}

/// Every `domain::…`/`edges::…` path a comment under `xtask/src` or `xtask/tests` names resolves: collected over
/// every file, reported once.
#[test]
fn every_module_path_a_comment_names_resolves() {
    let modules = modules();
    let (mut all, mut seen) = (Vec::<String>::new(), 0);
    for dir in ["xtask/src", "xtask/tests"] {
        for entry in walkdir::WalkDir::new(repo_root().join(dir)).into_iter().filter_map(Result::ok) {
            if entry.path().extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let file = entry.path().strip_prefix(repo_root()).unwrap_or(Path::new("")).display().to_string();
            all.extend(offenders(&file, &text, &modules, &mut seen));
        }
    }
    assert!(seen > 20, "only {seen} module paths found in comments: the finder is broken");
    assert!(all.is_empty(), "these comments name code that is not there; name it as it is now:\n{}", all.join("\n"));
}

/// The checkers find what they are for, so neither test above can pass by finding nothing.
#[test]
fn the_word_checkers_find_what_rotted() {
    let modules: BTreeMap<String, String> = [
        ("domain", "pub mod history;"),
        ("domain::history", "pub mod lock;"),
        ("domain::history::lock", "pub struct Lock {}\nimpl Lock {\n    pub fn read() {}\n}"),
        ("edges", "pub mod repo;"),
    ]
    .into_iter()
    .map(|(m, t)| (m.to_string(), t.to_string()))
    .collect();
    // One string per line, each opened on its own line: this file is scanned too, and these are not its comments.
    let source = [
        "//! See `domain::history::lock::Lock` and crate::domain::history::{lock, batch}.",
        "/// `domain::history::lock::Lock::read`, `domain::history::lock::Lock::write`, `edges::repo`.",
        "let url = \"postgres://h/db // domain::nowhere\"; // but domain::statements is a comment",
        "fn f() {} // edges::os::git",
    ]
    .join("\n");
    let mut seen = 0;
    let found = offenders("x.rs", &source, &modules, &mut seen);
    assert_eq!(
        found,
        [
            "x.rs:1: domain::history::batch (`domain::history` declares no `batch`)",
            "x.rs:2: domain::history::lock::Lock::write (`domain::history::lock` never names `write`)",
            "x.rs:3: domain::statements (`domain` declares no `statements`)",
            "x.rs:4: edges::os::git (`edges` declares no `os`)",
        ]
    );
    assert_eq!(seen, 8, "the string's `// domain::nowhere` is not a comment");
    let doc = "see `xtask/src/lib.rs`, `promote/gone.rs:15` and\n`supabase/cli.rs`, `a b.rs`, `*.rs`, `xtask.toml`";
    assert_eq!(rs_paths(doc), [(1, "xtask/src/lib.rs".to_string()), (1, "promote/gone.rs".to_string())]);
    assert!(rs_path_exists("xtask/src/lib.rs") && rs_path_exists("lib.rs") && !rs_path_exists("promote/gone.rs"));
}

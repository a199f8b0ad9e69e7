//! House rules checked on the source itself, in the manner of rust-analyzer's tidy test: the docs' command
//! tables match `--help`, no `unwrap()` outside tests, every module says what it is for, no module depends on
//! itself through others, the domain reads nothing itself, and no source file grows past what a reader takes in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use clap::CommandFactory;

const MAX_LINES: usize = 500;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Every source file, keyed by its module path (`promote::gates`; `promote` for `promote/mod.rs`).
fn modules() -> BTreeMap<String, String> {
    let src = src_dir();
    walkdir::WalkDir::new(&src)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
        .map(|e| {
            let rel = e.path().strip_prefix(&src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            (parts.join("::"), std::fs::read_to_string(e.path()).unwrap())
        })
        .collect()
}

/// The text before the file's first `#[cfg(test)]`: test code goes at the end of a file.
fn non_test(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

#[test]
fn every_module_starts_with_a_doc_comment_saying_what_it_is_for() {
    let missing: Vec<String> =
        modules().into_iter().filter(|(_, text)| !text.starts_with("//! ")).map(|(name, _)| name).collect();
    assert!(missing.is_empty(), "modules without a leading `//!` line: {missing:?}");
}

#[test]
fn no_unwrap_or_expect_outside_tests() {
    let mut offenders = Vec::new();
    for (name, text) in modules() {
        if name.ends_with("::tests") {
            continue;
        }
        for (i, line) in non_test(&text).lines().enumerate() {
            if line.contains(".unwrap()") || line.contains(".expect(") {
                offenders.push(format!("{name}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "handle these errors with `?` and `.context(..)`:\n{}", offenders.join("\n"));
}

#[test]
fn no_source_file_is_longer_than_a_reader_takes_in() {
    let long: Vec<String> = modules()
        .into_iter()
        .map(|(name, text)| (name, text.lines().count()))
        .filter(|(_, lines)| *lines > MAX_LINES)
        .map(|(name, lines)| format!("{name}: {lines} lines"))
        .collect();
    assert!(long.is_empty(), "split these (at most {MAX_LINES} lines): {long:?}");
}

/// The node of the module graph a module belongs to: a layer's folder (`domain::history`, `edges::postgres`) or a
/// file directly in one (`edges::target`), else the top-level module (`promote`, `check`): a folder and its
/// files implement one thing between them.
fn node(path: &str) -> String {
    let parts: Vec<&str> = path.split("::").collect();
    match parts[..] {
        [layer @ ("domain" | "edges"), part, ..] => format!("{layer}::{part}"),
        [first, ..] => first.to_string(),
        [] => String::new(),
    }
}

/// The nodes a module names (`crate::x::y`, `crate::{x, y}`), other than its own.
fn dependencies(name: &str, text: &str, nodes: &BTreeSet<String>) -> BTreeSet<String> {
    let me = node(name);
    let mut out = BTreeSet::new();
    let mut add = |path: &str| {
        let n = node(path);
        if nodes.contains(&n) && n != me {
            out.insert(n);
        }
    };
    let text = non_test(text);
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                add(item.trim());
            }
        } else {
            let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
            add(rest[..end].trim_end_matches(':'));
        }
    }
    out
}

/// The module graph: each node and the nodes its files name.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let nodes: BTreeSet<String> = modules
        .keys()
        .map(|m| node(m))
        .filter(|m| m != "lib" && m != "main" && m != "domain" && m != "edges")
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, text) in &modules {
        let n = node(name);
        if nodes.contains(&n) {
            graph.entry(n).or_default().extend(dependencies(name, text, &nodes));
        }
    }
    graph
}

#[test]
fn no_module_depends_on_itself_through_others() {
    let cycles = cycles(&graph());
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.into_iter().collect::<Vec<_>>().join("\n"));
}

/// The layers: commands at the top (each a top-level file or folder), the domain and the edges below them. Below
/// never names above: a domain or edge module that needs a command's code means that code is in the wrong place;
/// and the domain never names an edge.
#[test]
fn the_domain_and_the_edges_never_reach_up_into_a_command() {
    let graph = graph();
    let below = |n: &str| n.starts_with("domain::") || n.starts_with("edges::") || n == "blocked" || n == "flags";
    let mut offenders = Vec::new();
    for (from, tos) in &graph {
        if below(from) && from != "flags" {
            offenders.extend(tos.iter().filter(|to| !below(to)).map(|to| format!("{from} -> {to}")));
        }
        // The domain decides over data: it reaches no process, file or session.
        if from.starts_with("domain::") {
            offenders.extend(tos.iter().filter(|to| to.starts_with("edges::")).map(|to| format!("{from} -> {to}")));
        }
    }
    assert!(offenders.is_empty(), "move the code these need below the commands:\n{}", offenders.join("\n"));
}

/// What the domain never names: files, directories and parallel reads, processes, the environment, sessions,
/// the shell, and the clock. The domain decides over values its callers read; its tests build such values too,
/// so the rule holds in test code as well (a test that needs a file belongs to the edge it exercises).
const NOT_IN_THE_DOMAIN: &[&str] = &[
    "std::fs",
    "fs::",
    "File::open",
    "walkdir",
    "rayon",
    "std::process",
    "process::",
    "std::env",
    "env::",
    "postgres::",
    "xshell",
    "duct",
    "Utc::now",
    "Local::now",
    "SystemTime",
    "Instant::now",
];

/// Each line of `text` naming one of `NOT_IN_THE_DOMAIN` as a path (not inside a longer name, not in a comment),
/// as `line: text`.
fn io_lines(text: &str) -> Vec<String> {
    let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let names = |line: &str, word: &str| {
        line.match_indices(word).any(|(at, _)| {
            let before = line[..at].chars().next_back();
            let after = line[at + word.len()..].chars().next();
            !ident(before) && (word.ends_with(':') || !ident(after))
        })
    };
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .filter(|(_, line)| NOT_IN_THE_DOMAIN.iter().any(|word| names(line, word)))
        .map(|(i, line)| format!("{}: {}", i + 1, line.trim()))
        .collect()
}

#[test]
fn the_domain_reads_no_file_process_session_environment_or_clock() {
    let domain: Vec<(String, String)> =
        modules().into_iter().filter(|(name, _)| name.starts_with("domain::")).collect();
    assert!(domain.len() > 20, "the domain's files were not found under {}", src_dir().display());
    let offenders: Vec<String> = domain
        .iter()
        .flat_map(|(name, text)| io_lines(text).into_iter().map(move |line| format!("{name}:{line}")))
        .collect();
    assert!(
        offenders.is_empty(),
        "the domain takes what these read as values: move the reading into `edges/` and pass the result in:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_io_finder_finds_io() {
    let text = "use std::fs;\nlet v = std::env::var(\"X\");\n// std::fs in a comment\nlet refs::x = 1;\nproduct();\nlet t = chrono::Utc::now();\nuse rayon::prelude::*;\nlet pieces = Conductor;";
    assert_eq!(
        io_lines(text),
        [
            "1: use std::fs;",
            "2: let v = std::env::var(\"X\");",
            "6: let t = chrono::Utc::now();",
            "7: use rayon::prelude::*;"
        ]
    );
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let graph = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
        }
        g
    };
    assert_eq!(cycles(&graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")])), ["a -> b -> c".to_string()].into());
    assert!(cycles(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])).is_empty());
}

/// Every cycle, as the path from its smallest module back to it.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<String> {
    let mut cycles = BTreeSet::new();
    for start in graph.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                if next == start {
                    let mut cycle = path.clone();
                    let min = cycle.iter().enumerate().min_by_key(|(_, n)| n.as_str()).unwrap().0;
                    cycle.rotate_left(min);
                    cycles.insert(cycle.join(" -> "));
                } else if seen.insert(next.clone()) {
                    let mut p = path.clone();
                    p.push(next.clone());
                    stack.push((next.clone(), p));
                }
            }
        }
    }
    cycles
}

/// The subcommands `--help` lists, nested ones as `db start`, and each one's long options.
fn commands() -> BTreeMap<String, Vec<String>> {
    fn walk(cmd: &clap::Command, prefix: &str, out: &mut BTreeMap<String, Vec<String>>) {
        for sub in cmd.get_subcommands() {
            let name = format!("{prefix}{}", sub.get_name()).trim().to_string();
            if sub.has_subcommands() {
                walk(sub, &format!("{name} "), out);
            } else {
                let flags = sub
                    .get_arguments()
                    .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
                    .filter(|l| l != "--repo" && l != "--help")
                    .collect();
                out.insert(name, flags);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&xtask::flags::Xtask::command(), "", &mut out);
    out
}

/// A table row's cells; `\|` inside a cell is no separator.
fn cells(row: &str) -> Vec<String> {
    row.replace("\\|", "\u{1}").split('|').map(|c| c.replace('\u{1}', "|")).collect()
}

/// The rows of the first Markdown table under `heading` whose first cell starts with a backquoted command.
fn table_rows(doc: &str, heading: &str) -> Vec<String> {
    let start = doc.find(heading).unwrap_or_else(|| panic!("no `{heading}` section"));
    doc[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter(|l| l.starts_with("| `"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_design_command_table_matches_help() {
    let design = std::fs::read_to_string(repo_root().join("docs/design.md")).unwrap();
    let rows = table_rows(&design, "## Commands");
    let mut problems = Vec::new();
    for (name, flags) in commands() {
        let top = name.split(' ').next().unwrap();
        // `db start|stop|...` and `partition parity ...` rows cover their subcommands.
        let row = rows.iter().find(|r| {
            let cell = cells(r).swap_remove(1);
            cell.contains(&format!("`{name} ")) || cell.contains(&format!("`{name}`")) || {
                let sub = name.split(' ').nth(1).unwrap_or("");
                cell.starts_with(&format!(" `{top} ")) && cell.contains(sub)
            }
        });
        let Some(row) = row else {
            problems.push(format!("`{name}` has no row in docs/design.md's command table"));
            continue;
        };
        let cell = cells(row).swap_remove(1);
        let documented = |flag: &str| cell.contains(flag) || (top == "bench" && row.contains("bench"));
        for flag in flags.iter().filter(|f| !documented(f)) {
            problems.push(format!("`{name}`: {flag} is missing from its row in docs/design.md"));
        }
    }
    let known: BTreeSet<String> = commands().keys().map(|c| c.split(' ').next().unwrap().to_string()).collect();
    for row in &rows {
        let cell = cells(row).swap_remove(1);
        let word = cell.trim().trim_start_matches('`').split([' ', '`']).next().unwrap_or("");
        if !known.contains(word) {
            problems.push(format!("docs/design.md lists `{word}`, which `--help` does not have"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_readme_command_table_names_every_command() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let rows = table_rows(&readme, "## Status").join("\n");
    let missing: Vec<String> = commands()
        .keys()
        .map(|c| c.split(' ').next().unwrap().to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|top| !rows.contains(&format!("`{top}")))
        .collect();
    assert!(missing.is_empty(), "README.md's status table does not name: {missing:?}");
}

/// Every file or folder docs/design.md's "Where to look" names is there: a map that points nowhere is worse than
/// none.
#[test]
fn every_path_where_to_look_names_exists() {
    let doc = std::fs::read_to_string(repo_root().join("docs/design.md")).unwrap();
    let mut missing = Vec::new();
    let section = &doc[doc.find("### Where to look (`xtask/src/`)").unwrap()..];
    let rows = section.lines().skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|')).skip(2);
    for row in rows {
        for (i, part) in row.split('`').enumerate() {
            let path = part.trim();
            let is_path = i % 2 == 1 && (path.ends_with(".rs") || path.ends_with('/') || path.ends_with(".sql"));
            if !is_path {
                continue;
            }
            let full = if path.starts_with("xtask/") { repo_root().join(path) } else { src_dir().join(path) };
            if !full.exists() {
                missing.push(path.to_string());
            }
        }
    }
    assert!(missing.is_empty(), "docs/design.md names paths that are not there: {missing:?}");
}

/// A backquoted path in README.md or docs/design.md (`xtask/src/promote/lock.rs`, `edges/os/interrupt.rs`,
/// `scripts/setup`): the words people follow to the code. Placeholders (`<utc>`, `2026...`) are not paths.
fn named_paths(doc: &str) -> BTreeSet<String> {
    let exts = [".rs", ".sql", ".toml", ".yml", ".json", ".md", ".yaml", ".mjs", ".lock"];
    doc.split('`')
        .skip(1)
        .step_by(2)
        .map(str::trim)
        .filter(|p| p.contains('/') && !p.contains(['<', '*', ' ', '$', '{', '(']) && !p.contains("..."))
        .filter(|p| !p.starts_with("http") && !p.starts_with('/') && !p.starts_with("~"))
        // What the xtask writes when it runs (a capture, records, evidence, its caches under target/) is named
        // before it exists; `supabase/` is the Supabase CLI's project folder, which a user's repository may have.
        .filter(|p| {
            !["docs/database/platform/", "docs/database/promotions/", "docs/database/evidence/", "target/", "supabase/"]
                .iter()
                .any(|w| p.starts_with(w))
        })
        .filter(|p| exts.iter().any(|e| p.ends_with(e)) || p.starts_with("scripts/") || p.starts_with(".ci/"))
        .map(str::to_string)
        .collect()
}

/// Every path README.md and docs/design.md name is there (from the repository's top, or from `xtask/src/`, or
/// `xtask/tests/`), and every `cargo xtask <command>` they name is one `--help` has: docs that point nowhere rot
/// silently.
#[test]
fn every_path_and_command_the_docs_name_exists() {
    let known: BTreeSet<String> = commands().keys().map(|c| c.split(' ').next().unwrap().to_string()).collect();
    let mut problems = Vec::new();
    for doc_name in ["README.md", "docs/design.md"] {
        let doc = std::fs::read_to_string(repo_root().join(doc_name)).unwrap();
        for path in named_paths(&doc) {
            let roots = [repo_root(), src_dir(), repo_root().join("xtask/tests"), repo_root().join("migrations")];
            if !roots.iter().any(|r| r.join(&path).exists()) {
                problems.push(format!("{doc_name} names `{path}`, which is not there"));
            }
        }
        for (_, rest) in doc.match_indices("cargo xtask ").map(|(i, _)| ((), &doc[i + 12..])) {
            let word: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
            if !word.is_empty() && !known.contains(&word) {
                problems.push(format!("{doc_name} names `cargo xtask {word}`, which `--help` does not have"));
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

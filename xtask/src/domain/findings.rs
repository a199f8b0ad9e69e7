//! What `check` reports: a rule code, a severity, a place in a file, what is wrong and how to fix it.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks: `check` exits 1.
    Error,
    Warning,
    /// Listed for review, e.g. an acknowledged destructive statement.
    Note,
    /// Not reported (only valid in `xtask.toml`).
    Off,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
            Severity::Off => "off",
        }
    }
}

/// The rules of `check`. Their codes are stable: they appear in every output format and in `xtask.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    FileName,
    FutureVersion,
    Unreadable,
    FileTooLarge,
    EmptyFile,
    DuplicateVersion,
    OutOfOrder,
    AppliedModified,
    AppliedMissing,
    Destructive,
    Concurrently,
    TransactionControl,
    PartitionPhaseMix,
    PartitionPhaseUnstated,
    ParseError,
    PlatformRefuses,
    Squawk(squawk_linter::Rule),
}

/// Our own codes, for `xtask.toml` validation and documentation.
pub const OWN_CODES: &[Code] = &[
    Code::FileName,
    Code::FutureVersion,
    Code::Unreadable,
    Code::FileTooLarge,
    Code::EmptyFile,
    Code::DuplicateVersion,
    Code::OutOfOrder,
    Code::AppliedModified,
    Code::AppliedMissing,
    Code::Destructive,
    Code::Concurrently,
    Code::TransactionControl,
    Code::PartitionPhaseMix,
    Code::PartitionPhaseUnstated,
    Code::ParseError,
    Code::PlatformRefuses,
];

impl Code {
    pub fn parse(s: &str) -> Option<Code> {
        OWN_CODES
            .iter()
            .copied()
            .find(|code| code.to_string() == s)
            .or_else(|| squawk_linter::Rule::try_from(s).ok().map(Code::Squawk))
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Code::FileName => "file-name",
            Code::FutureVersion => "future-version",
            Code::Unreadable => "unreadable",
            Code::FileTooLarge => "file-too-large",
            Code::EmptyFile => "empty-file",
            Code::DuplicateVersion => "duplicate-version",
            Code::OutOfOrder => "out-of-order",
            Code::AppliedModified => "applied-modified",
            Code::AppliedMissing => "applied-missing",
            Code::Destructive => "destructive",
            Code::Concurrently => "concurrently",
            Code::TransactionControl => "transaction-control",
            Code::PartitionPhaseMix => "partition-phase-mix",
            Code::PartitionPhaseUnstated => "partition-phase-unstated",
            Code::ParseError => "parse-error",
            Code::PlatformRefuses => "platform-refuses",
            Code::Squawk(rule) => return write!(f, "{rule}"),
        };
        f.write_str(s)
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A line and column, both 1-based; column counts characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    /// Path relative to the repository root, with `/` separators.
    pub file: String,
    #[serde(flatten)]
    pub pos: Pos,
    pub message: String,
    pub fix: String,
}

impl Finding {
    pub fn new(code: Code, severity: Severity, file: &str, message: impl Into<String>) -> Finding {
        Finding {
            code,
            severity,
            file: file.to_string(),
            pos: Pos::default(),
            message: message.into(),
            fix: String::new(),
        }
    }

    pub fn at(mut self, pos: Pos) -> Finding {
        self.pos = pos;
        self
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Finding {
        self.fix = fix.into();
        self
    }
}

/// Maps byte offsets in a file's text to line and column.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        LineIndex { starts }
    }

    pub fn pos(&self, text: &str, offset: usize) -> Pos {
        let line = self.starts.partition_point(|&start| start <= offset);
        let start = self.starts[line - 1];
        let col = text.get(start..offset).map_or(1, |s| s.chars().count() + 1);
        Pos { line: line as u32, col: col as u32 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_maps_offsets_to_one_based_positions() {
        let text = "select 1;\nselect 'é', 2;\n";
        let index = LineIndex::new(text);
        assert_eq!(index.pos(text, 0), Pos { line: 1, col: 1 });
        assert_eq!(index.pos(text, 10), Pos { line: 2, col: 1 });
        let two = text.find('2').unwrap();
        assert_eq!(index.pos(text, two), Pos { line: 2, col: 13 });
    }

    #[test]
    fn codes_round_trip_including_squawk_rules() {
        for code in OWN_CODES {
            assert_eq!(Code::parse(&code.to_string()), Some(*code));
        }
        assert_eq!(
            Code::parse("require-concurrent-index-creation"),
            Some(Code::Squawk(squawk_linter::Rule::RequireConcurrentIndexCreation))
        );
        assert_eq!(Code::parse("no-such-rule"), None);
    }
}

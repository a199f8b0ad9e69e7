//! `-- xtask:` directives: what a migration says about itself in comments (an acknowledged destructive statement
//! or exposure, its partition phase, a cutover's swap, rollback criteria and rollback). Pure: a parsed file in,
//! data out.

use serde::{Deserialize, Serialize};
use squawk_syntax::{SyntaxKind, SyntaxNode};

use super::norm;
use crate::domain::findings::Pos;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Directives {
    /// `-- xtask: ack destructive: <reason>`; `None` when the reason is missing.
    pub destructive_acks: Vec<(Pos, Option<String>)>,
    /// `-- xtask: ack exposure: <reason>`: the file's exposure errors are known and meant (the exposure review).
    #[serde(default)]
    pub exposure_acks: Vec<(Pos, String)>,
    /// `-- xtask: partition-phase 1|2`.
    pub partition_phase: Option<(Pos, u8)>,
    /// `-- xtask: partition-cutover <source> <shadow>`: a swap the statements do not show (names normalised).
    #[serde(default)]
    pub partition_cutover: Vec<(Pos, String, String)>,
    /// `-- xtask: rollback-criteria: <text>`: when the cutover is rolled back.
    #[serde(default)]
    pub rollback_criteria: Option<(Pos, String)>,
    /// `-- xtask: rollback: <file under <migrations>/rollback/ | SQL>`: how.
    #[serde(default)]
    pub rollback: Option<(Pos, String)>,
    pub malformed: Vec<(Pos, String)>,
}

const KNOWN_DIRECTIVES: &str = "`ack destructive: <reason>`, `ack exposure: <reason>`, `partition-phase 1|2`, `partition-cutover <source> <shadow>`, `rollback-criteria: <text>`, `rollback: <file or SQL>`";

/// The text after `:` (required), trimmed; `None` when there is none.
fn text_of(rest: &str) -> Option<String> {
    let text = rest.strip_prefix(':')?.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// Every `-- xtask:` comment of a parsed file; an unknown or malformed one is kept as `malformed`.
pub fn read(root: &SyntaxNode, pos: &dyn Fn(u32) -> Pos) -> Directives {
    let mut out = Directives::default();
    let comments =
        root.descendants_with_tokens().filter_map(|t| t.into_token()).filter(|t| t.kind() == SyntaxKind::COMMENT);
    for token in comments {
        let Some(body) = token.text().strip_prefix("--").map(str::trim) else { continue };
        let Some(directive) = body.strip_prefix("xtask:").map(str::trim) else { continue };
        let at = pos(token.text_range().start().into());
        if let Some(rest) = directive.strip_prefix("ack destructive") {
            let reason = rest.trim_start_matches(':').trim();
            out.destructive_acks.push((at, (!reason.is_empty()).then(|| reason.to_string())));
        } else if let Some(rest) = directive.strip_prefix("ack exposure") {
            match text_of(rest) {
                Some(reason) => out.exposure_acks.push((at, reason)),
                None => out.malformed.push((
                    at,
                    "`ack exposure:` says why what the file exposes is meant: `ack exposure: <reason>`".into(),
                )),
            }
        } else if let Some(rest) = directive.strip_prefix("partition-phase") {
            match rest.trim_start_matches(':').trim() {
                "1" => out.partition_phase = Some((at, 1)),
                "2" => out.partition_phase = Some((at, 2)),
                other => out.malformed.push((at, format!("`partition-phase {other}`: the phase is 1 or 2"))),
            }
        } else if let Some(rest) = directive.strip_prefix("partition-cutover") {
            match rest.trim_start_matches(':').split_whitespace().collect::<Vec<_>>()[..] {
                [source, shadow] => out.partition_cutover.push((at, norm(source), norm(shadow))),
                _ => out.malformed.push((
                    at,
                    "`partition-cutover` names the live table, then its shadow: `partition-cutover public.t public.t_p`"
                        .to_string(),
                )),
            }
        } else if let Some(rest) = directive.strip_prefix("rollback-criteria") {
            match text_of(rest) {
                Some(text) => out.rollback_criteria = Some((at, text)),
                None => out
                    .malformed
                    .push((at, "`rollback-criteria:` says when to roll back: `rollback-criteria: <text>`".into())),
            }
        } else if let Some(rest) = directive.strip_prefix("rollback") {
            match text_of(rest) {
                Some(text) => out.rollback = Some((at, text)),
                None => out.malformed.push((
                    at,
                    "`rollback:` names a file under the migrations' rollback/ folder, or holds the SQL: `rollback: rollback/<file>.sql`".into(),
                )),
            }
        } else {
            out.malformed.push((at, format!("unknown directive `xtask: {directive}`; known: {KNOWN_DIRECTIVES}")));
        }
    }
    out
}

//! `migrations/promotion.lock`: each target's recorded head and the checksum of every applied file.
//!
//! The file carries a digest of its own content, so a hand edit (moving a head, "fixing" a checksum) is refused
//! instead of silently trusted.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::history::migrations;

pub const FILE_NAME: &str = "promotion.lock";
const FORMAT: u32 = 1;

/// The fix for a damaged lock, naming it where it is (`rel`, as the repository shows it).
fn restore(rel: &str) -> String {
    format!(
        "restore it with `git checkout -- {rel}` (it is only written by `cargo xtask promote` and `cargo xtask baseline`)"
    )
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    #[serde(default)]
    pub targets: BTreeMap<String, TargetState>,
    /// File name -> checksum (see `migrations::checksum`) of every file at or before some target's head.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetState {
    pub head: String,
    /// UTC time of the promotion (or baseline) that recorded this head.
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    /// `promote` or `baseline`.
    pub recorded_by: String,
    /// The database this target was first promoted or baselined at (pinned): later promotions refuse another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<crate::domain::history::identity::Place>,
    /// For a server (not a hosted project): its `system_identifier` and the database's oid, when read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The PostgreSQL major the target ran at that promotion (read live); older locks have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major: Option<crate::domain::major::Major>,
    /// The role model its migrations ran under at that promotion (`platform`, `plain_superuser`, `plain_owner`);
    /// older locks have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_model: Option<crate::domain::platform::RoleModel>,
}

impl TargetState {
    /// A head recorded by `by`, nothing pinned: the tests' target.
    #[cfg(test)]
    pub fn at(head: &str, by: &str) -> TargetState {
        TargetState {
            head: head.into(),
            recorded_at: Default::default(),
            recorded_by: by.into(),
            identity: None,
            server: None,
            major: None,
            role_model: None,
        }
    }

    /// The pinned identity, if any.
    pub fn pinned(&self) -> Option<crate::domain::history::identity::Identity> {
        let place = self.identity.clone()?;
        Some(crate::domain::history::identity::Identity { place, live: self.server.clone() })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnDisk {
    format: u32,
    digest: String,
    #[serde(default)]
    targets: BTreeMap<String, TargetState>,
    #[serde(default)]
    files: BTreeMap<String, String>,
}

impl Lock {
    /// The recorded heads at or after `version`, each said as `name (head V)`: where a file of that version that
    /// was never applied is out of order (the CLI refuses the push).
    pub fn heads_not_before(&self, version: &str) -> Vec<String> {
        self.targets
            .iter()
            .filter(|(_, state)| version <= state.head.as_str())
            .map(|(name, state)| format!("{name} (head {})", state.head))
            .collect()
    }

    /// The lowest head recorded for the targets `protected` names: the files at or before it ran on every
    /// protected database, under the platform's rules of their day.
    pub fn lowest_head_of(&self, protected: impl Fn(&str) -> bool) -> Option<&str> {
        self.targets.iter().filter(|(name, _)| protected(name)).map(|(_, state)| state.head.as_str()).min()
    }

    pub fn head(&self, target: &str) -> Option<&str> {
        self.targets.get(target).map(|t| t.head.as_str())
    }

    /// The targets whose recorded head is at or after `version`: those that ran that file.
    pub fn recorded_on(&self, version: &str) -> Vec<&str> {
        self.targets.iter().filter(|(_, t)| t.head.as_str() >= version).map(|(n, _)| n.as_str()).collect()
    }

    /// The lowest recorded head: every file after it is pending for some target.
    pub fn lowest_head(&self) -> Option<&str> {
        self.targets.values().map(|t| t.head.as_str()).min()
    }

    fn digest(&self) -> String {
        // JSON of BTreeMaps is canonical: same content, same bytes.
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        migrations::hex(&Sha256::digest(&canonical))
    }

    /// The lock file's `text` (the edge reads it), which messages name `rel`.
    pub fn parse_file(text: &str, rel: &str) -> anyhow::Result<Lock> {
        Lock::parse(text).with_context(|| format!("{rel} is not a valid lock file; {}", restore(rel)))
    }

    pub fn parse(text: &str) -> anyhow::Result<Lock> {
        let disk: OnDisk = toml::from_str(text)?;
        if disk.format != FORMAT {
            bail!("format {} is not the supported format {FORMAT}", disk.format);
        }
        let lock = Lock { targets: disk.targets, files: disk.files };
        if lock.digest() != disk.digest {
            bail!("its digest does not match its content: it was edited by hand");
        }
        lock.validate()?;
        Ok(lock)
    }

    fn validate(&self) -> anyhow::Result<()> {
        for name in self.files.keys() {
            if migrations::parse_file_name(name).is_none() {
                bail!("[files] names `{name}`, which is not a migration file name");
            }
        }
        for (target, state) in &self.targets {
            let head_file =
                self.files.keys().find(|f| migrations::parse_file_name(f).map(|(v, _)| v) == Some(&state.head));
            if head_file.is_none() {
                bail!("[targets.{target}] head {} has no checksum in [files]", state.head);
            }
        }
        Ok(())
    }

    pub fn render(&self) -> String {
        let disk =
            OnDisk { format: FORMAT, digest: self.digest(), targets: self.targets.clone(), files: self.files.clone() };
        let body = toml::to_string(&disk).unwrap_or_default();
        format!(
            "# Generated by `cargo xtask promote` / `cargo xtask baseline`. Do not edit: a hand edit fails every command.\n\
             # Each target's recorded head, and the checksum (SHA-256, CRLF folded to LF) of every file applied anywhere.\n\n{body}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Lock {
        let mut lock = Lock::default();
        lock.files.insert("20260105090000_core.sql".into(), "ab".repeat(32));
        lock.targets.insert(
            "prod".into(),
            TargetState {
                head: "20260105090000".into(),
                recorded_at: "2026-05-12T22:05:28Z".parse().unwrap(),
                recorded_by: "baseline".into(),
                identity: Some(crate::domain::history::identity::Place::Project("srcaoozjkrughebmbvfb".into())),
                server: None,
                major: None,
                role_model: None,
            },
        );
        lock.targets.insert(
            "staging".into(),
            TargetState {
                head: "20260105090000".into(),
                recorded_at: "2026-05-12T22:05:28Z".parse().unwrap(),
                recorded_by: "promote".into(),
                identity: Some(crate::domain::history::identity::Place::Server {
                    host: "127.0.0.1".into(),
                    port: 5432,
                    database: "app".into(),
                }),
                server: Some("7714534279537065078/16384".into()),
                major: Some(crate::domain::major::Major::V17),
                role_model: None,
            },
        );
        lock
    }

    #[test]
    fn round_trips_through_its_rendering() {
        let lock = sample();
        assert_eq!(Lock::parse(&lock.render()).unwrap(), lock);
        assert_eq!(lock.head("prod"), Some("20260105090000"));
        assert_eq!(lock.head("dev"), None);
    }

    /// The committed lock reads and renders back to its own bytes: its times (`recorded_at`, a chrono time now)
    /// and its digest do not churn.
    #[test]
    fn the_committed_lock_renders_byte_for_byte() {
        let text = include_str!("../../../../migrations/promotion.lock");
        let lock = Lock::parse(text).unwrap();
        assert!(!lock.targets.is_empty(), "the committed lock records a target");
        assert_eq!(lock.render(), text);
    }

    #[test]
    fn refuses_a_hand_edit() {
        let edited = sample().render().replace("head = \"20260105090000\"", "head = \"20260105090001\"");
        let err = Lock::parse(&edited).unwrap_err().to_string();
        assert_eq!(err, "its digest does not match its content: it was edited by hand");
    }

    #[test]
    fn refuses_a_head_without_its_file() {
        let mut lock = sample();
        lock.targets.get_mut("prod").unwrap().head = "20990101000000".into();
        let err = Lock::parse(&lock.render()).unwrap_err().to_string();
        assert_eq!(err, "[targets.prod] head 20990101000000 has no checksum in [files]");
    }
}

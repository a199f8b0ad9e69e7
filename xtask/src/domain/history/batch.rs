//! Batch planning: which files a promotion of a target would push, in the order the CLI pushes them.

use anyhow::bail;

use crate::domain::history::migrations::Migration;

/// The files after `head` (all of them when the target has none), up to and including `until`.
pub fn pending<'a>(
    migrations: &'a [Migration],
    head: Option<&str>,
    until: Option<&str>,
) -> anyhow::Result<Vec<&'a Migration>> {
    let after_head = migrations.iter().filter(|m| head.is_none_or(|head| m.version.as_str() > head));
    let mut batch: Vec<&Migration> = after_head.collect();
    batch.truncate(up_to(&batch, until)?);
    Ok(batch)
}

/// How many of `pending` a promotion up to and including `until` takes: all of them without one.
pub fn up_to(pending: &[&Migration], until: Option<&str>) -> anyhow::Result<usize> {
    let Some(until) = until else { return Ok(pending.len()) };
    match pending.iter().position(|m| m.version == until) {
        Some(last) => Ok(last + 1),
        None => bail!(
            "--until {until} is not a pending version; pending: {}",
            if pending.is_empty() {
                "none".to_string()
            } else {
                pending.iter().map(|m| m.version.as_str()).collect::<Vec<_>>().join(", ")
            }
        ),
    }
}

/// The next version for `cargo xtask new`: now, but later than every existing version and head.
pub fn next_version<'a>(
    now: chrono::DateTime<chrono::Utc>,
    taken: impl IntoIterator<Item = &'a str>,
) -> anyhow::Result<String> {
    let now = now.format("%Y%m%d%H%M%S").to_string();
    // The CLI orders versions as strings, so "later" means string-greater.
    let Some(latest) = taken.into_iter().max().filter(|latest| *latest >= now.as_str()) else {
        return Ok(now);
    };
    let next = match crate::domain::history::migrations::version_time(latest) {
        Some(time) => (time + chrono::Duration::seconds(1)).format("%Y%m%d%H%M%S").to_string(),
        None => bump_digits(latest),
    };
    if next.len() != 14 || next.as_str() <= latest {
        bail!("the latest version {latest} leaves no 14-digit version after it; rename the offending file");
    }
    Ok(next)
}

fn bump_digits(version: &str) -> String {
    let value: u128 = version.parse().unwrap_or(0);
    format!("{:014}", value + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::history::migrations::MigrationFile;
    use chrono::TimeZone;

    fn m(version: &str) -> Migration {
        Migration::new(
            MigrationFile {
                version: version.into(),
                name: "x".into(),
                file_name: format!("{version}_x.sql"),
                rel_path: format!("migrations/{version}_x.sql"),
                path: Default::default(),
            },
            Vec::new(),
        )
    }

    #[test]
    fn pending_after_head_up_to_until() {
        let all = [m("20260101000000"), m("20260102000000"), m("20260103000000")];
        let versions = |b: Vec<&Migration>| b.iter().map(|m| m.version.clone()).collect::<Vec<_>>();
        assert_eq!(versions(pending(&all, None, None).unwrap()).len(), 3);
        assert_eq!(
            versions(pending(&all, Some("20260101000000"), None).unwrap()),
            ["20260102000000", "20260103000000"]
        );
        assert_eq!(
            versions(pending(&all, Some("20260101000000"), Some("20260102000000")).unwrap()),
            ["20260102000000"]
        );
        let err = pending(&all, Some("20260102000000"), Some("20260101000000")).unwrap_err().to_string();
        assert_eq!(err, "--until 20260101000000 is not a pending version; pending: 20260103000000");
    }

    #[test]
    fn next_version_is_now_or_one_second_after_the_latest() {
        let now = chrono::Utc.with_ymd_and_hms(2026, 11, 24, 18, 0, 0).unwrap();
        assert_eq!(next_version(now, ["20260513175000"]).unwrap(), "20261124180000");
        assert_eq!(next_version(now, ["20261124180000"]).unwrap(), "20261124180001");
        assert_eq!(next_version(now, ["20991231235959", "20260101000000"]).unwrap(), "21000101000000");
        assert_eq!(next_version(now, ["20261399000000"]).unwrap(), "20261399000001");
        assert!(next_version(now, ["99999999999999"]).is_err());
    }
}

//! Durations as people write them in flags and `xtask.toml`: `30d`, `12h`, `90m`, `5s`, `2w`. Pure.

use anyhow::{Context, bail};

/// `30d`, `7d`, `12h`, `90m`, `45s`, `2w`.
pub fn parse_duration(text: &str) -> anyhow::Result<chrono::Duration> {
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: i64 = digits.parse().with_context(|| format!("`{text}` is not a duration like 30d, 12h or 90m"))?;
    Ok(match unit {
        "s" => chrono::Duration::seconds(n),
        "m" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        "w" => chrono::Duration::weeks(n),
        _ => bail!("`{text}` is not a duration like 30d, 12h or 90m (units: s, m, h, d, w)"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d").unwrap(), chrono::Duration::days(30));
        assert_eq!(parse_duration("12h").unwrap(), chrono::Duration::hours(12));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("3y").is_err());
    }
}

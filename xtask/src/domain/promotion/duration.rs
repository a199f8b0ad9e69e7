//! Durations as people write them in flags and `xtask.toml`: `30d`, `12h`, `90m`, `5s`, `2w`, `1h 30m`. Pure.

use anyhow::Context;

/// `30d`, `7d`, `12h`, `90m`, `45s`, `2w`, `1h 30m`: humantime's grammar (its `y` and `M` are 365.25 and 30.44
/// days), so what people write elsewhere for a duration reads the same here.
pub fn parse_duration(text: &str) -> anyhow::Result<chrono::Duration> {
    let std = humantime::parse_duration(text)
        .map_err(|e| anyhow::anyhow!("`{text}` is not a duration like 30d, 12h or 90m ({e})"))?;
    chrono::Duration::from_std(std).with_context(|| format!("`{text}` is too long a duration"))
}

/// A duration as it was written (`30d`), parsed: what a flag holds, so clap refuses a bad one before anything
/// runs, and records keep the text people wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub duration: chrono::Duration,
}

impl std::str::FromStr for Span {
    type Err = String;

    fn from_str(text: &str) -> Result<Span, String> {
        let duration = parse_duration(text).map_err(|e| e.to_string())?;
        Ok(Span { text: text.to_string(), duration })
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
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
        assert!(parse_duration("3x").is_err());
        assert_eq!(parse_duration("1h 30m").unwrap(), chrono::Duration::minutes(90));
        assert_eq!(parse_duration("0s").unwrap(), chrono::Duration::zero());
        let span: Span = "90m".parse().unwrap();
        assert_eq!((span.to_string(), span.duration), ("90m".to_string(), chrono::Duration::minutes(90)));
        assert!("x".parse::<Span>().unwrap_err().starts_with("`x` is not a duration like 30d, 12h or 90m ("));
    }
}

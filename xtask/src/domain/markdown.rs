//! Markdown the reports and evidence share: a table cell's text.

/// A Markdown table cell: no pipes or line breaks.
pub fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

//! A person's confirmation on the terminal: the prompt on stderr, the answer from stdin, compared with what they
//! were asked to type. Without a terminal there is nobody to ask: `Answer::NoTerminal`, and the caller says
//! which flag to pass instead.

use std::io::{BufRead, IsTerminal, Write};

#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    Confirmed,
    Refused,
    NoTerminal,
}

/// Shows `prompt`, then reads one line: `Confirmed` when it is `expected` (spaces around it aside).
pub fn ask(prompt: &str, expected: &str) -> anyhow::Result<Answer> {
    if !std::io::stdin().is_terminal() {
        return Ok(Answer::NoTerminal);
    }
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(if answer.trim() == expected { Answer::Confirmed } else { Answer::Refused })
}

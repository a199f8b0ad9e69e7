//! The `cargo xtask` binary: parses the command line, runs it, and maps the outcome to the exit code
//! (0 success, 1 blocked, 2 error, 130 interrupted and handled). Everything else is in the library.

use std::process::ExitCode;

use clap::Parser;
use xtask::edges::os::interrupt::Interrupted;

fn main() -> ExitCode {
    let flags = xtask::flags::Xtask::parse();
    let Err(err) = xtask::run(flags) else { return ExitCode::SUCCESS };
    // Every error passes `redact`: no token or password reaches a terminal or a CI log.
    if let Some(interrupted) = err.downcast_ref::<Interrupted>() {
        eprintln!("{}", xtask::edges::output::redact::redact(&interrupted.to_string()));
        return ExitCode::from(xtask::edges::os::interrupt::EXIT_CODE);
    }
    match xtask::blocked::refusal(&err) {
        Some(refusal) => {
            eprintln!("{}", xtask::edges::output::redact::redact(&refusal.to_string()));
            ExitCode::from(1)
        }
        None => {
            eprintln!("error: {}", xtask::edges::output::redact::redact(&format!("{err:#}")));
            ExitCode::from(2)
        }
    }
}

// The parser allocates a node per token; mimalloc makes `check` about a tenth faster than glibc's malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

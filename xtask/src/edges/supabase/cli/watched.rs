//! The push as a watched child: the CLI in a process group of its own, ended as a whole when asked; its stderr
//! read line by line as it comes (the file it applies), and kept whole for the transcript.

use anyhow::Context;
use xshell::Shell;

use super::Cli;

impl Cli {
    /// A push: through duct rather than xshell, because it is the one child that runs for minutes. stdin is
    /// closed, so the CLI can never sit at a prompt nobody sees, and the child is a handle that is waited on
    /// while the spinner turns.
    pub(super) fn run_push(
        &self,
        sh: &Shell,
        args: &[String],
        env: &[(&str, String)],
        watch: Watch,
    ) -> anyhow::Result<std::process::Output> {
        let path = &self.path;
        let mut cmd = duct::cmd(path, self.global_args().iter().chain(args)).dir(sh.current_dir());
        for (key, value) in env {
            cmd = cmd.env(key, value);
        }
        let running = || -> std::io::Result<std::process::Output> {
            let (reader, writer) = os_pipe::pipe()?;
            let handle = cmd
                .env_remove("SUPABASE_PROJECT_ID")
                .stdin_null()
                .stdout_capture()
                .stderr_file(writer)
                .unchecked()
                // A group of its own: a terminal's Ctrl-C reaches the xtask only, which decides, and ending the
                // CLI ends whatever it started too.
                .before_spawn(|c| {
                    std::os::unix::process::CommandExt::process_group(c, 0);
                    Ok(())
                })
                .start()?;
            // The expression keeps a copy of the pipe's writer: dropped with it, so the reader ends with the CLI.
            drop(cmd);
            let _group = EndedOnPanic(handle.pids());
            std::thread::scope(|scope| {
                let stderr = scope.spawn(|| read_lines(reader, watch.line));
                while handle.try_wait()?.is_none() {
                    if (watch.stop)() {
                        handle.pids().into_iter().for_each(end_group);
                        handle.kill()?;
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                let mut output = handle.into_output()?;
                output.stderr = stderr.join().unwrap_or_default();
                Ok(output)
            })
        };
        running().with_context(|| format!("running {}", path.display()))
    }
}

/// The CLI's process group, ended if the xtask unwinds while the CLI runs: in a group of its own, no signal to the
/// xtask's group reaches it. (Only on a panic: after the CLI exited, its pid may belong to another group.)
struct EndedOnPanic(Vec<u32>);

impl Drop for EndedOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.iter().for_each(|pid| end_group(*pid));
        }
    }
}

/// Sends SIGKILL to the process group `pid` leads.
fn end_group(pid: u32) {
    // SAFETY: kill(2) with a negative pid signals that process group; no memory is involved.
    unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGKILL) };
}

/// What a push is watched by: whether to end it now, and each line the CLI writes to stderr.
#[derive(Clone, Copy)]
pub struct Watch<'a> {
    pub stop: &'a dyn Fn() -> bool,
    pub line: &'a (dyn Fn(&str) + Sync),
}

/// The CLI's stderr, line by line to `line`, and whole.
fn read_lines(reader: os_pipe::PipeReader, line: &(dyn Fn(&str) + Sync)) -> Vec<u8> {
    use std::io::BufRead;
    let mut all = Vec::new();
    let mut lines = std::io::BufReader::new(reader);
    let mut buf = Vec::new();
    while lines.read_until(b'\n', &mut buf).unwrap_or(0) > 0 {
        line(String::from_utf8_lossy(&buf).trim_end());
        all.append(&mut buf);
    }
    all
}

/// The file a line of the CLI's push output starts applying: `Applying migration <file>...`.
pub fn applying(line: &str) -> Option<&str> {
    line.trim().strip_prefix("Applying migration ")?.strip_suffix("...")
}

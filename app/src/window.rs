//! Opening the desktop window from the command line: `aftercall` with no subcommand
//! hands over to the `aftercall-window` program installed beside it, so the command
//! line itself never links or loads the window's libraries (GTK, WebKitGTK).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// The window program's file name.
pub const PROGRAM: &str = if cfg!(windows) {
    "aftercall-window.exe"
} else {
    "aftercall-window"
};

/// Where the window program should be: beside `exe`, the running `aftercall`.
pub fn beside(exe: &Path) -> PathBuf {
    exe.with_file_name(PROGRAM)
}

/// Replaces this process with the window program (on unix; elsewhere runs it and
/// exits with its status), passing `--data-dir` when one was given and the whole
/// environment. Returns only if the window cannot be started.
pub fn open(data_dir: Option<&Path>) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find where this program is installed")?;
    let program = beside(&exe);
    if !program.is_file() {
        bail!("{}", not_installed(&program));
    }
    let mut command = Command::new(&program);
    if let Some(dir) = data_dir {
        command.arg("--data-dir").arg(dir);
    }
    hand_over(command, &program)
}

fn not_installed(program: &Path) -> String {
    format!(
        "the window is not installed beside this program (expected {}); \
         build it with `cargo build -p aftercall-window`",
        program.display()
    )
}

#[cfg(unix)]
fn hand_over(mut command: Command, program: &Path) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    let e = command.exec();
    if e.kind() == std::io::ErrorKind::NotFound {
        bail!("{}", not_installed(program));
    }
    Err(e).with_context(|| format!("cannot start the window {}", program.display()))
}

#[cfg(not(unix))]
fn hand_over(mut command: Command, program: &Path) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot start the window {}", program.display()))?;
    std::process::exit(status.code().unwrap_or(1));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_looked_for_beside_the_command_line() {
        let exe = Path::new("/opt/aftercall/bin/aftercall");
        assert_eq!(beside(exe), Path::new("/opt/aftercall/bin").join(PROGRAM));
    }
}

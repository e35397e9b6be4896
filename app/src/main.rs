//! The `aftercall` binary: with one subcommand it runs headless as a command line;
//! with none it opens the app, handing over to the `aftercall-window` program
//! beside it (this binary links no window libraries, so commands start fast).

use std::process::ExitCode;

use clap::Parser;

use aftercall_app::cli::{self, Cli, OutputFailure};

fn main() -> ExitCode {
    aftercall_app::logging::init_from_env();
    let args = Cli::parse();
    let result = match args.command {
        Some(command) => cli::run(args.data_dir, command),
        None => open_app(args.data_dir),
    };
    // A reader that closed standard output early (`aftercall people | head`) had
    // what it wanted: end quietly and successfully.
    match (cli::output_failure(result.as_ref().err()), result) {
        (Some(OutputFailure::Closed), _) => ExitCode::SUCCESS,
        (_, Err(e)) => {
            say(&aftercall_app::logging::last_words(&e));
            ExitCode::FAILURE
        }
        (Some(OutputFailure::Failed(e)), Ok(())) => {
            say(&format!("aftercall: cannot write the output: {e}"));
            ExitCode::FAILURE
        }
        (None, Ok(())) => ExitCode::SUCCESS,
    }
}

/// The app's window: the desktop program beside this one.
#[cfg(not(feature = "mobile"))]
fn open_app(data_dir: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    aftercall_app::window::open(data_dir.as_deref())
}

/// The app's window: on a phone, this process shows it.
#[cfg(feature = "mobile")]
fn open_app(data_dir: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    aftercall_app::ui::launch_mobile(data_dir)
}

/// A line on standard error, which may be closed too.
fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}

//! The `aftercall` binary: with no subcommand it opens the app; with one it runs
//! headless as a command line.

use std::process::ExitCode;

use clap::Parser;

use aftercall_app::cli::{self, Cli};

fn main() -> ExitCode {
    let filter = std::env::var("AFTERCALL_LOG").ok();
    tracing_subscriber::util::SubscriberInitExt::init(aftercall_app::logging::subscriber(
        filter.as_deref(),
        "error",
        std::io::stderr,
    ));
    let args = Cli::parse();
    let result = match args.command {
        Some(command) => cli::run(args.data_dir, command),
        None => aftercall_app::ui::launch(args.data_dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("aftercall: {}", chain.join(": "));
            ExitCode::FAILURE
        }
    }
}

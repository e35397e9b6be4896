//! The `aftercall-window` binary: the app's screens in a desktop window. `aftercall`
//! with no subcommand hands over to it; it is the only program that links the
//! window's libraries (GTK, WebKitGTK), so the command line starts without them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dioxus::prelude::VirtualDom;
use dioxus_desktop::{Config, LogicalSize, WindowBuilder};

use aftercall_app::ui::{window_config, App};

/// The Aftercall app in a desktop window (`aftercall` opens it).
#[derive(Debug, Parser)]
#[command(name = "aftercall-window", version, about)]
struct Args {
    /// Where the data lives (default: the platform's data directory).
    #[arg(long, env = "AFTERCALL_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    aftercall_app::logging::init_from_env();
    let args = Args::parse();
    match window_config(args.data_dir) {
        Ok(config) => {
            let window = WindowBuilder::new()
                .with_title("Aftercall")
                .with_inner_size(LogicalSize::new(1100.0, 760.0));
            dioxus_desktop::launch::launch_virtual_dom(
                VirtualDom::new(App).with_root_context(config),
                Config::new().with_window(window).with_menu(None),
            )
        }
        Err(e) => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "{}",
                aftercall_app::logging::last_words(&e)
            );
            ExitCode::FAILURE
        }
    }
}

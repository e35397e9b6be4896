//! `aftercall` with no subcommand opens the window by handing over to the
//! `aftercall-window` program beside it; the command line links no window library.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::aftercall_bin;

/// Libraries only the desktop window needs; none may be linked into `aftercall`.
const WINDOW_LIBRARIES: &[&str] = &[
    "gtk",
    "gdk",
    "webkit",
    "javascriptcore",
    "soup",
    "atk",
    "cairo",
    "pango",
    "xdo",
];

#[cfg(target_os = "linux")]
#[test]
fn the_command_line_links_no_window_library() {
    let out = Command::new("readelf")
        .arg("-d")
        .arg(aftercall_bin())
        .output()
        .expect("run readelf (binutils)");
    assert!(out.status.success(), "readelf failed");
    let dynamic = String::from_utf8_lossy(&out.stdout);
    let needed: Vec<&str> = dynamic.lines().filter(|l| l.contains("(NEEDED)")).collect();
    assert!(!needed.is_empty(), "no NEEDED entries read:\n{dynamic}");
    let window: Vec<&&str> = needed
        .iter()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            WINDOW_LIBRARIES.iter().any(|w| l.contains(w))
        })
        .collect();
    assert!(
        window.is_empty(),
        "aftercall links window libraries: {window:#?}"
    );
}

/// A copy of `aftercall` alone in a fresh folder, so what lies beside it is up to the test.
fn aftercall_alone() -> (tempfile::TempDir, PathBuf) {
    let folder = tempfile::tempdir().unwrap();
    let copy = folder.path().join("aftercall");
    std::fs::copy(aftercall_bin(), &copy).expect("copy aftercall");
    (folder, copy)
}

/// Runs `program ARGS…`; a copy just written may be busy for a moment while another
/// test's child process still holds it open between fork and exec.
fn run(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    for _ in 0..50 {
        match Command::new(program)
            .args(args)
            .env_remove("AFTERCALL_DATA_DIR")
            .envs(env.iter().copied())
            .output()
        {
            Err(e) if e.raw_os_error() == Some(26) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            other => return other.expect("run the copy of aftercall"),
        }
    }
    panic!("{} stayed busy", program.display());
}

#[test]
fn without_the_window_beside_it_aftercall_says_how_to_build_it_and_fails() {
    let (folder, aftercall) = aftercall_alone();
    let data = folder.path().join("data");
    let out = run(&aftercall, &["--data-dir", data.to_str().unwrap()], &[]);
    assert!(!out.status.success(), "opening a missing window must fail");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let expected = folder.path().join("aftercall-window");
    assert_eq!(
        stderr,
        format!(
            "aftercall: the window is not installed beside this program (expected {}); \
             build it with `cargo build -p aftercall-window`\n",
            expected.display()
        )
    );
    assert!(out.stdout.is_empty());
    assert!(
        !data.exists(),
        "nothing is created when the window is missing"
    );
}

#[cfg(unix)]
#[test]
fn the_window_beside_aftercall_takes_over_with_the_data_dir_and_environment() {
    use std::os::unix::fs::PermissionsExt;

    let (folder, aftercall) = aftercall_alone();
    let seen = folder.path().join("seen");
    // The stand-in window writes down its process id, arguments and one variable.
    let window = folder.path().join("aftercall-window");
    std::fs::write(
        &window,
        format!(
            "#!/bin/sh\n\
             {{ echo \"$$\"; for a in \"$@\"; do echo \"arg:$a\"; done; \
             echo \"env:$AFTERCALL_WINDOW_STORY\"; }} > '{}'\n\
             exit 7\n",
            seen.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&window, std::fs::Permissions::from_mode(0o755)).unwrap();

    let data = folder.path().join("my data");
    let mut child = loop {
        match Command::new(&aftercall)
            .arg("--data-dir")
            .arg(&data)
            .env_remove("AFTERCALL_DATA_DIR")
            .env("AFTERCALL_WINDOW_STORY", "handed over")
            .spawn()
        {
            Err(e) if e.raw_os_error() == Some(26) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            other => break other.expect("start the copy of aftercall"),
        }
    };
    let pid = child.id();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(7),
        "the window's exit status comes back"
    );
    let seen = std::fs::read_to_string(&seen).expect("the stand-in window ran");
    assert_eq!(
        seen,
        format!(
            "{pid}\narg:--data-dir\narg:{}\nenv:handed over\n",
            data.display()
        ),
        "the window replaced aftercall (same process) with its data dir and environment"
    );

    // With the data dir from the environment only, the window is told it as well.
    let seen_path = folder.path().join("seen");
    let out = run(
        &aftercall,
        &[],
        &[
            ("AFTERCALL_DATA_DIR", data.to_str().unwrap()),
            ("AFTERCALL_WINDOW_STORY", "again"),
        ],
    );
    assert_eq!(out.status.code(), Some(7));
    let seen = std::fs::read_to_string(&seen_path).unwrap();
    assert!(
        seen.ends_with(&format!(
            "arg:--data-dir\narg:{}\nenv:again\n",
            data.display()
        )),
        "{seen}"
    );
}

//! A real PostgreSQL server for the tests: a throwaway cluster started once per
//! test binary, or an existing server named by `AFTERCALL_TEST_POSTGRES`.
//!
//! The cluster is Debian's PostgreSQL (`/usr/lib/postgresql/N/bin`, installed by
//! `.ci/setup`): `initdb` in a temporary directory (as the `postgres` user when the
//! tests run as root, since PostgreSQL refuses to run as root), listening on a Unix
//! socket in that directory only, no TCP port. A small shell holds it: when the test
//! binary exits, however it exits, the shell's standard input closes and it stops
//! the server and removes the directory. The cluster runs with `fsync = off` (it is
//! thrown away; `synchronous_commit` stays on, which is what the relay checks).
//!
//! Each test takes a database of its own ([`PostgresServer::database`]), so tests
//! run in parallel on one cluster. Without PostgreSQL the tests fail, saying how to
//! install it: they never pass by skipping.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Points the tests at an existing server instead of a throwaway cluster, as a
/// URL whose user may create databases: `postgres://user:password@host/postgres`.
pub const SERVER_VARIABLE: &str = "AFTERCALL_TEST_POSTGRES";

/// Where the tests' PostgreSQL is.
#[derive(Debug)]
pub struct PostgresServer {
    /// Connection settings for its maintenance database.
    admin: tokio_postgres::Config,
    /// A throwaway cluster: it creates and drops its own databases freely.
    throwaway: bool,
    /// The shell holding a throwaway cluster; dropping its stdin stops it.
    _cluster: Option<Mutex<Child>>,
}

/// The test binary's server, started on first use.
pub fn server() -> &'static PostgresServer {
    static SERVER: OnceLock<PostgresServer> = OnceLock::new();
    SERVER.get_or_init(|| match std::env::var(SERVER_VARIABLE) {
        Ok(url) => PostgresServer {
            admin: url
                .parse()
                .unwrap_or_else(|e| panic!("{SERVER_VARIABLE} does not parse: {e}")),
            throwaway: false,
            _cluster: None,
        },
        Err(_) => start_cluster(),
    })
}

/// A database of one test's own.
#[derive(Debug)]
pub struct TestDatabase {
    pub config: tokio_postgres::Config,
    name: String,
    drop_after: Option<tokio_postgres::Config>,
}

impl TestDatabase {
    /// `postgres://…`-style settings as a URL for `sync-server --db`.
    pub fn url(&self) -> String {
        let user = self.config.get_user().unwrap_or("postgres");
        let mut url = format!("postgresql:///{}?user={user}", self.name);
        for host in self.config.get_hosts() {
            match host {
                tokio_postgres::config::Host::Tcp(h) => url.push_str(&format!("&host={h}")),
                tokio_postgres::config::Host::Unix(p) => {
                    url.push_str(&format!("&host={}", p.display()))
                }
            }
        }
        if let Some(port) = self.config.get_ports().first() {
            url.push_str(&format!("&port={port}"));
        }
        if let Some(password) = self.config.get_password() {
            url.push_str(&format!("&password={}", String::from_utf8_lossy(password)));
        }
        url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A connection of the test's own, for looking at the tables.
    pub async fn connect(&self) -> tokio_postgres::Client {
        connect(&self.config).await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // On an existing server, leave nothing behind; a throwaway cluster goes whole.
        let Some(admin) = self.drop_after.take() else {
            return;
        };
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let client = connect(&admin).await;
                let _ = client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            });
        })
        .join();
    }
}

/// A throwaway cluster of one test's own, for a test that restarts it (the
/// binary's shared one stays up for the others). Without `AFTERCALL_TEST_POSTGRES`
/// only: an existing server is not the tests' to restart.
pub fn private_server() -> PostgresServer {
    start_cluster()
}

impl PostgresServer {
    /// Stops the server (a fast shutdown: every connection to it is cut) and
    /// starts it again; returns once it accepts connections.
    pub async fn restart(&self) {
        use std::io::Write;
        let cluster = self
            ._cluster
            .as_ref()
            .expect("only a throwaway cluster is restarted");
        {
            let mut child = cluster.lock().unwrap();
            let stdin = child
                .stdin
                .as_mut()
                .expect("the cluster's shell reads its stdin");
            stdin.write_all(b"restart\n").unwrap();
            stdin.flush().unwrap();
        }
        // The old server's socket goes, then the new one's comes.
        let socket = self
            .admin
            .get_hosts()
            .iter()
            .find_map(|h| match h {
                tokio_postgres::config::Host::Unix(dir) => Some(dir.join(".s.PGSQL.5432")),
                _ => None,
            })
            .expect("a throwaway cluster listens on a Unix socket");
        let deadline = Instant::now() + Duration::from_secs(30);
        while socket.exists() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(connect(&self.admin).await);
    }

    /// A connection to the server's maintenance database.
    pub async fn admin(&self) -> tokio_postgres::Client {
        connect(&self.admin).await
    }

    /// A new, empty database for one test.
    pub async fn database(&self) -> TestDatabase {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "aftercall_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        self.admin()
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
        let mut config = self.admin.clone();
        config.dbname(&name);
        TestDatabase {
            config,
            name,
            drop_after: (!self.throwaway).then(|| self.admin.clone()),
        }
    }
}

/// Connects, waiting up to 10 s while a cluster just started finishes starting.
async fn connect(config: &tokio_postgres::Config) -> tokio_postgres::Client {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match config.connect(tokio_postgres::NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(connection);
                return client;
            }
            Err(e) if Instant::now() > deadline => {
                panic!("cannot connect to the tests' PostgreSQL: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// The newest PostgreSQL server binaries Debian installed.
fn bin_dir() -> PathBuf {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    dirs.sort();
    match dirs.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL is not installed, and the relay's PostgreSQL tests need it: run \
             `bash .ci/setup` (Debian's postgresql package), or set {SERVER_VARIABLE} to \
             the URL of an existing server"
        ),
    }
}

/// Runs the server's programs as `postgres` when the tests run as root.
fn as_server_user(program: &Path) -> Command {
    if rustix::process::geteuid().is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn start_cluster() -> PostgresServer {
    let bin = bin_dir();
    let dir = tempfile::Builder::new()
        .prefix("aftercall-pg-")
        .tempdir()
        .unwrap()
        .keep();
    if rustix::process::geteuid().is_root() {
        let chown = Command::new("chown")
            .arg("postgres:")
            .arg(&dir)
            .status()
            .unwrap();
        assert!(chown.success(), "cannot give {} to postgres", dir.display());
    }
    let data = dir.join("data");
    let initdb = as_server_user(&bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run initdb: {e}"));
    assert!(
        initdb.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&initdb.stderr)
    );
    // The shell stops the server and removes its directory once its stdin closes:
    // when this test binary exits.
    // Each line on its stdin restarts the server (a fast shutdown, then a start).
    let script = r#"
bin="$1"
dir="$2"
start() {
    "$bin/postgres" -D "$dir/data" -k "$dir" -p 5432 -c listen_addresses= -c fsync=off \
        -c full_page_writes=off -c max_connections=300 >>"$dir/log" 2>&1 &
    pid=$!
}
start
while read -r _; do
    kill -INT "$pid"
    wait "$pid"
    start
done
kill -INT "$pid"
wait "$pid"
rm -rf "$dir"
"#;
    let mut shell = as_server_user(Path::new("/bin/sh"));
    shell
        .args(["-c", script, "postgres-for-tests"])
        .arg(&bin)
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = shell.spawn().expect("cannot start PostgreSQL");
    let mut admin = tokio_postgres::Config::new();
    admin
        .host_path(&dir)
        .port(5432)
        .user("postgres")
        .dbname("postgres");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !dir.join(".s.PGSQL.5432").exists() {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
            panic!("PostgreSQL did not start within 30 s:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    PostgresServer {
        admin,
        throwaway: true,
        _cluster: Some(Mutex::new(child)),
    }
}

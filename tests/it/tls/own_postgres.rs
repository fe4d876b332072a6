//! A PostgreSQL cluster of the test's own, never the machine's: `initdb`
//! into a temp dir as the `postgres` user (initdb refuses root), started on
//! free ports of 127.0.0.1 and 127.0.0.2 (an address its certificate does
//! not name) with `ssl = on` and the test's certificate (key mode 0600).
//! It runs in a process group of its own; drop asks it to stop at once
//! (SIGQUIT, so it frees its shared memory) and kills what is left.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sqlx::Connection;

use crate::support::certs::TestPki;
use crate::support::group::ProcessGroup;
use crate::support::parts;
use crate::support::poll_until;

/// How long initdb plus the first start may take on a busy machine.
const START_DEADLINE: Duration = Duration::from_secs(120);

pub struct OwnPostgres {
    pub port: u16,
    dir: tempfile::TempDir,
    /// The postmaster's group: SIGQUIT on drop, then SIGKILL.
    _group: ProcessGroup,
}

impl OwnPostgres {
    /// Starts one; `None` (said on stderr) when PostgreSQL's programs or the
    /// `postgres` user are missing here, a failure under `CI=true`.
    pub async fn start(pki: &TestPki) -> Option<Self> {
        let why = "initdb and postgres (PostgreSQL's server programs) are not installed";
        let bin = parts::found(server_bin_dir().ok_or_else(|| parts::missing(why)))?;
        let why = "there is no `postgres` user to run initdb as";
        let (uid, gid) = parts::found(postgres_user().ok_or_else(|| parts::missing(why)))?;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        chmod(dir.path(), 0o755);
        std::os::unix::fs::chown(&data, Some(uid), Some(gid)).unwrap();
        let initdb = as_postgres(&bin.join("initdb"))
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            initdb.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        for (from, to) in [("server.pem", "server.crt"), ("server.key", "server.key")] {
            let path = data.join(to);
            std::fs::copy(pki.path(from), &path).unwrap();
            std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
            chmod(&path, 0o600);
        }
        let port = free_port();
        let mut command = as_postgres(&bin.join("postgres"));
        command
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1,127.0.0.2"])
            .args(["-c", &format!("unix_socket_directories={}", data.display())])
            .args([
                "-c",
                "ssl=on",
                "-c",
                "ssl_cert_file=server.crt",
                "-c",
                "ssl_key_file=server.key",
            ])
            .args(["-c", "fsync=off"]);
        let log = dir.path().join("postgres.log");
        let group = ProcessGroup::spawn("the test's PostgreSQL", command, &log).on_drop("-QUIT");
        let own = Self {
            port,
            dir,
            _group: group,
        };
        own.wait_up().await;
        Some(own)
    }

    /// `postgres://postgres@HOST:PORT/postgres` plus `query`.
    pub fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres{query}", self.port)
    }

    async fn wait_up(&self) {
        let url = self.url("127.0.0.1", "?sslmode=disable");
        let log = self.dir.path().join("postgres.log");
        let what = format!(
            "the test's PostgreSQL takes connections; see {}",
            log.display()
        );
        poll_until(&what, START_DEADLINE, || async {
            sqlx::PgConnection::connect(&url).await.is_ok()
        })
        .await;
    }
}

/// Where `initdb` and `postgres` are: beside `initdb` on PATH (followed
/// through its link), or Debian's /usr/lib/postgresql/*/bin.
fn server_bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("initdb"))
        .find(|p| p.exists())
        .and_then(|p| std::fs::canonicalize(p).ok())
        .and_then(|p| p.parent().map(Path::to_owned));
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .find(|d| d.join("initdb").exists());
    on_path.or(debian).filter(|d| d.join("postgres").exists())
}

/// The `postgres` user's uid and gid.
fn postgres_user() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.starts_with("postgres:"))?;
    let fields: Vec<&str> = line.split(':').collect();
    Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?))
}

/// `program` run as the `postgres` user (setpriv execs it: the PID is the program's).
fn as_postgres(program: &Path) -> Command {
    let mut command = Command::new("setpriv");
    command
        .args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(program)
        .env_remove("PGSSLMODE")
        .current_dir("/");
    command
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A port free right now on both 127.0.0.1 and 127.0.0.2.
fn free_port() -> u16 {
    (0..50)
        .find_map(|_| {
            let one = TcpListener::bind("127.0.0.1:0").ok()?;
            let port = one.local_addr().ok()?.port();
            TcpListener::bind(("127.0.0.2", port)).ok().map(|_| port)
        })
        .expect("a port free on 127.0.0.1 and 127.0.0.2")
}

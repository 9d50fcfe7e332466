//! A throwaway PostgreSQL for store tests (the Rust port of tests/replicas/pg.sh): `initdb` and
//! `pg_ctl` from /usr/lib/postgresql/*/bin in a temp folder, on a free loopback port, as the
//! unprivileged user `sniperpg` when the tests run as root. One server per test binary; a
//! watchdog stops it and removes its folder when the test process exits. `SNIPER_TEST_PG_URL`
//! (an admin URL able to `CREATE DATABASE`) replaces it. With `SNIPER_REQUIRE_POSTGRES=1` a server
//! that cannot start fails the test; otherwise the caller skips and says why.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// A running server: URLs of fresh databases come from [`Pg::fresh_db`].
pub struct Pg {
    /// `postgres://sniper@127.0.0.1:PORT/postgres` (or `SNIPER_TEST_PG_URL`).
    pub admin_url: String,
}

static SERVER: OnceLock<Result<Pg, String>> = OnceLock::new();
static DB_SEQ: AtomicU32 = AtomicU32::new(0);

/// The server, or `None` (with the reason printed) when none can run and none is required.
pub fn server() -> Option<&'static Pg> {
    let s = SERVER.get_or_init(|| match std::env::var("SNIPER_TEST_PG_URL") {
        Ok(u) if !u.trim().is_empty() => Ok(Pg {
            admin_url: u.trim().to_string(),
        }),
        _ => start(),
    });
    match s {
        Ok(pg) => Some(pg),
        Err(why) => {
            if std::env::var("SNIPER_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("SNIPER_REQUIRE_POSTGRES=1 but PostgreSQL cannot start: {why}");
            }
            eprintln!("PostgreSQL unavailable, skipping the PostgreSQL half: {why}");
            None
        }
    }
}

impl Pg {
    /// A new, empty database on the server; its URL.
    pub fn fresh_db(&self, tag: &str) -> String {
        let name = format!(
            "t_{}_{}_{}",
            tag.to_ascii_lowercase()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
            std::process::id(),
            DB_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let admin = self.admin_url.clone();
        let n = name.clone();
        // The sync client must not run on an async worker; tests are plain threads.
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("admin connection");
        c.batch_execute(&format!("CREATE DATABASE \"{n}\""))
            .expect("CREATE DATABASE");
        let mut u = url::Url::parse(&self.admin_url).expect("admin URL");
        u.set_path(&format!("/{name}"));
        u.to_string()
    }
}

fn pg_bin() -> Option<PathBuf> {
    let mut bins: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|b| b.join("initdb").is_file())
        .collect();
    bins.sort_by_key(|b| {
        b.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    bins.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn as_user(root: bool, program: &Path) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "sniperpg", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn start() -> Result<Pg, String> {
    let bin = pg_bin().ok_or("no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)")?;
    let root = is_root();
    let dir = std::env::temp_dir().join(format!(
        "sniper-pg-test-{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_nanosecond()
    ));
    let data = dir.join("data");
    let sock = dir.join("sock");
    std::fs::create_dir_all(&data).map_err(|e| format!("mkdir {data:?}: {e}"))?;
    std::fs::create_dir_all(&sock).map_err(|e| format!("mkdir {sock:?}: {e}"))?;
    run(
        Command::new("chmod").arg("755").arg(&dir),
        "chmod the server folder",
    )?;
    if root {
        if !Command::new("id")
            .arg("sniperpg")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            // Two test binaries may race to create it; a second failure is fine if it exists.
            let _ = Command::new("useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    "sniperpg",
                ])
                .output();
        }
        run(
            Command::new("chown").arg("sniperpg").arg(&data).arg(&sock),
            "chown the server folder",
        )?;
    }
    run(
        as_user(root, &bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "sniper", "--auth=trust", "-E", "UTF8"]),
        "initdb",
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("free port: {e}"))?
        .port();
    run(
        as_user(root, &bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .args(["-w", "-t", "30", "-l"])
            .arg(data.join("server.log"))
            .arg("-o")
            .arg(format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off",
                sock.display()
            ))
            .arg("start"),
        "pg_ctl start",
    )?;
    // Watchdog: stops the server and removes its folder once this test process is gone.
    let stop = format!(
        "{} {} -D {} -m immediate stop",
        if root { "runuser -u sniperpg --" } else { "" },
        bin.join("pg_ctl").display(),
        data.display()
    );
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        dir = dir.display()
    );
    Command::new("setsid")
        .args(["bash", "-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("watchdog: {e}"))?;
    Ok(Pg {
        admin_url: format!("postgres://sniper@127.0.0.1:{port}/postgres"),
    })
}

/// A fresh database on the test server, or `None` (with the reason printed) when none can run
/// and none is required (`SNIPER_REQUIRE_POSTGRES=1` makes that a failure).
pub fn url() -> Option<String> {
    Some(server()?.fresh_db("t"))
}

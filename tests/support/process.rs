//! Starting the `sniper` binary: a command with a clean environment, and a daemon (`serve`,
//! `demo`, `proxy`) waited for until it prints its address.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The `sniper` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_sniper");

/// Removes every `SNIPER_*`, `FEATURE_*`, `PY_BASE_URL`, alert and signal variable the test's own
/// environment would pass on, so a child sees only what the test sets.
pub fn clean_env(c: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars() {
        if k.starts_with("FEATURE_")
            || k.starts_with("SNIPER_")
            || k.starts_with("TELEGRAM_")
            || k.starts_with("SIGNAL_")
            || k.starts_with("ALERT_")
            || k == "PY_BASE_URL"
        {
            c.env_remove(k);
        }
    }
    c
}

/// `sniper` with a clean environment ([`clean_env`]).
pub fn sniper() -> Command {
    let mut c = Command::new(BIN);
    clean_env(&mut c);
    c
}

/// A started `sniper` process (derefs to its [`Child`]); dropping it kills the process and waits
/// for it, so a failing test never leaves a daemon behind.
pub struct Daemon(Child);

impl std::ops::Deref for Daemon {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Daemon {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a daemon prints before its own address (`serve`/`proxy`: "listening on", `demo`:
/// "status page"); other lines (logs) may name other loopback servers, such as the backend.
const ADDRESS_MARKERS: [&str; 2] = ["listening on http://", "status page http://"];

/// Starts `cmd` (a daemon listening on `127.0.0.1:0`), reads its stderr until it announces its
/// address ([`ADDRESS_MARKERS`]), and returns the process with that base URL
/// (`http://127.0.0.1:<port>`, no trailing slash). The rest of stderr is
/// drained on a thread (and echoed with `SNIPER_TEST_LOG=1`).
///
/// # Panics
/// When the process exits before printing its address (its stderr so far is in the message).
pub fn start(mut cmd: Command) -> (Daemon, String) {
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("sniper starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = String::new();
    let url = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sniper exited before printing its address:\n{seen}");
        };
        seen.push_str(&line);
        seen.push('\n');
        if let Some(i) = ADDRESS_MARKERS
            .iter()
            .find_map(|m| line.find(m).map(|i| i + m.len() - "http://".len()))
        {
            let rest = &line[i..];
            let end = rest["http://".len()..]
                .find(|c: char| c == '/' || c.is_whitespace())
                .map_or(rest.len(), |e| e + "http://".len());
            break rest[..end].to_string();
        }
    };
    let echo = std::env::var("SNIPER_TEST_LOG").is_ok_and(|v| v == "1");
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if echo {
                eprintln!("{line}");
            }
        }
    });
    (Daemon(child), url)
}

/// `sniper serve` on `127.0.0.1:0` against `backend`, always inside the trading window
/// (start == end), with `env` on top.
pub fn serve(backend: &str, env: &[(&str, &str)]) -> (Daemon, String) {
    let mut c = sniper();
    c.arg("serve")
        .env("SNIPER_LISTEN", "127.0.0.1:0")
        .env("PY_BASE_URL", backend)
        .env("ACTIVE_TRADING_START", "00:00")
        .env("ACTIVE_TRADING_END", "00:00");
    for (k, v) in env {
        c.env(k, v);
    }
    start(c)
}

/// Sends SIGTERM to `child`.
pub fn sigterm(child: &Child) {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs")
            .success()
    );
}

/// Waits up to `limit` for `child` to exit; its exit code (`None`: ended by a signal).
///
/// # Panics
/// When it still runs after `limit` (it is killed first).
pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<i32> {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return st.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("sniper did not exit within {limit:?}");
}

//! `occurrent run` as a child process with an HTTP client, for the read-side tests.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;

/// A running server; dropping it kills the process.
pub struct Server {
    child: Child,
    pub base: String,
    pub client: Client,
}

impl Server {
    /// `occurrent run ARGS --listen HOST:PORT --workers 2` on a free port; returns once
    /// `/readyz` answers 200, and fails the test if the process exits or 30 s pass first.
    pub fn start(host: &str, args: &[&str]) -> Server {
        let listen = format!("{host}:{}", super::free_port());
        let child = Command::new(super::BIN)
            .arg("run")
            .args(args)
            .args(["--listen", &listen, "--workers", "2"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start occurrent run");
        // Requests go to loopback even when the server listens on another address.
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{}", listen.rsplit(':').next().unwrap_or_default()),
            client: Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !server.is_ready() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("occurrent run {args:?} exited before it was ready: {status}");
            }
            assert!(Instant::now() < deadline, "occurrent run {args:?} not ready after 30 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// A server the caller started (e.g. one process of a cluster) listening on `listen`; the
    /// caller waits for it to be ready.
    pub fn adopt(child: Child, listen: &str) -> Server {
        Server {
            child,
            base: format!("http://{listen}"),
            client: Client::new(),
        }
    }

    fn is_ready(&self) -> bool {
        self.client.get(self.url("/readyz")).send().is_ok_and(|r| r.status() == 200)
    }

    /// SIGKILL (no drain, no final checkpoint), and wait for the process to end.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill occurrent run");
        self.child.wait().expect("wait for occurrent run");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

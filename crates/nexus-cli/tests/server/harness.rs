//! A running `nexus serve` (the real binary) on 127.0.0.1 with a temporary data directory,
//! and the CLI run against it. The HTTP client and tokens are the server crate's test client.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

#[path = "../../../nexus-server/tests/http/client.rs"]
mod client;

pub use client::{Api, SECRET, seed_config, token};

pub struct Server {
    pub dir: TempDir,
    pub address: SocketAddr,
    pub admin_key: String,
    child: Option<Child>,
    env: Vec<(String, String)>,
}

pub fn nexus() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nexus"));
    command
        .env("JWT_SECRET", SECRET)
        .env_remove("NEXUS_LOG")
        .env_remove("NEXUS_URL")
        .env_remove("NEXUS_HOST")
        .env_remove("NEXUS_PORT")
        .env_remove("NEXUS_API_KEY")
        .env_remove("NEXUS_TOKEN")
        .env_remove("NEXUS_DATA_DIR")
        .env_remove("NEXUS_LOCKER_KEY");
    command
}

impl Server {
    /// Writes `config` to `nexus.yaml`, runs `nexus init`, then `nexus serve --port 0`.
    pub fn start(config: &str) -> Server {
        Server::start_with_env(config, &[])
    }

    /// Like [`Server::start`], with extra environment for the server process.
    pub fn start_with_env(config: &str, env: &[(&str, &str)]) -> Server {
        let dir = TempDir::new().unwrap();
        let config_path = dir.path().join("nexus.yaml");
        std::fs::write(&config_path, config).unwrap();
        let init = nexus()
            .args(["--json", "init", "--config"])
            .arg(&config_path)
            .output()
            .unwrap();
        assert!(
            init.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let report: Value = serde_json::from_slice(&init.stdout).unwrap();
        let admin_key = report["admin_key"]["secret"].as_str().unwrap().to_owned();
        let mut server = Server {
            dir,
            address: "127.0.0.1:1".parse().unwrap(),
            admin_key,
            child: None,
            env: env
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        };
        server.launch();
        server
    }

    pub fn config_path(&self) -> std::path::PathBuf {
        self.dir.path().join("nexus.yaml")
    }

    /// Starts `nexus serve` (again) on a free port.
    pub fn launch(&mut self) {
        let mut child = nexus()
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .args(["serve", "--port", "0", "--config"])
            .arg(self.config_path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let address = loop {
            let line = lines
                .next()
                .expect("the server exited before listening")
                .unwrap();
            if let Some(address) = line.strip_prefix("nexus: listening on http://") {
                break address.parse().unwrap();
            }
        };
        // Keep draining the server's log so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        self.address = address;
        self.child = Some(child);
    }

    /// Kills the server with SIGKILL (no shutdown of any kind) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Sends SIGTERM and waits; returns whether the process exited successfully.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let pid = child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        for _ in 0..200 {
            if let Some(status) = child.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill().unwrap();
        false
    }
}

impl Api for Server {
    fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs the CLI against the server with `env` (e.g. `NEXUS_URL`, `NEXUS_API_KEY`).
pub fn cli(env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let mut command = nexus();
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.args(args).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

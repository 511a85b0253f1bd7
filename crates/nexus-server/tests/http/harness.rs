//! `nexus_server::serve` started in-process on 127.0.0.1 (a free port) over a temporary data
//! directory that is provisioned first, as `nexus init` does, with a system API key.

use std::net::SocketAddr;
use std::path::PathBuf;

use nexus_core::fault::Fault;
use nexus_core::{CallContext, StoreOptions};
use nexus_server::Config;
use tempfile::TempDir;

pub use crate::client::{
    Api, Response, SECRET, b64, http, now, seed_config, sign_raw, token, token_with,
};

/// The variables configurations in these tests may name (the services' URLs come from
/// `scripts/services.sh`).
fn lookup(name: &str) -> Option<String> {
    match name {
        "JWT_SECRET" => Some(SECRET.to_owned()),
        "NEXUS_PG_URL" | "NEXUS_S3_URL" => std::env::var(name).ok(),
        _ => None,
    }
}

/// With `NEXUS_TEST_TIER=scale-out` every server of these tests keeps its data on the
/// scale-out tier (PostgreSQL in a schema of its own, S3 under a prefix of its own) instead
/// of the embedded one, unless its configuration chooses storage itself.
fn on_tier(config: &str) -> (String, Option<String>) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let scale_out = match std::env::var("NEXUS_TEST_TIER").as_deref() {
        Ok("scale-out") => true,
        Ok("embedded") | Err(_) => false,
        Ok(other) => panic!("NEXUS_TEST_TIER is `embedded` or `scale-out`, not `{other}`"),
    };
    if !scale_out || config.contains("\nstorage:") {
        return (config.to_owned(), None);
    }
    let schema = format!(
        "http_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let config = format!(
        "{}\nstorage:\n  metadata: ${{NEXUS_PG_URL}}\n  blobs: ${{NEXUS_S3_URL}}/{schema}\n  schema: {schema}\n  migrate: true\n",
        config.trim_end()
    );
    (config, Some(schema))
}

pub struct Server {
    pub dir: TempDir,
    /// On the scale-out tier: the storage to drop when the test ends.
    scale_out: Option<nexus_core::Storage>,
    pub address: SocketAddr,
    pub admin_key: String,
    fault: Option<Fault>,
    running: Option<Running>,
}

/// A server thread and the way to stop it.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<Result<(), String>>,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

impl Server {
    /// Writes `config` to `nexus.yaml`, provisions its organizations and a system key,
    /// then serves it.
    pub fn start(config: &str) -> Server {
        Server::start_with(config, None)
    }

    /// Like [`Server::start`], with a test-only fault injected into the server.
    pub fn start_with_fault(config: &str, fault: Fault) -> Server {
        Server::start_with(config, Some(fault))
    }

    fn start_with(config: &str, fault: Option<Fault>) -> Server {
        let dir = TempDir::new().unwrap();
        let (config, schema) = on_tier(config);
        std::fs::write(dir.path().join("nexus.yaml"), config).unwrap();
        // For configurations that name it (`locker: {key_file: locker.key}`).
        let (_, locker_key) = nexus_core::locker::MasterKey::generate();
        std::fs::write(dir.path().join("locker.key"), locker_key).unwrap();
        let mut server = Server {
            dir,
            scale_out: None,
            address: "127.0.0.1:1".parse().unwrap(),
            admin_key: String::new(),
            fault,
            running: None,
        };
        let config = server.config();
        server.scale_out = schema.map(|_| config.storage());
        server.admin_key = runtime().block_on(async {
            let fs = config.open(StoreOptions::default()).await.unwrap();
            let system = CallContext::system();
            fs.orgs()
                .provision(&system, &config.org_specs())
                .await
                .unwrap();
            let key = fs
                .accounts()
                .create_key(&system, "system", "test administrator key")
                .await
                .unwrap();
            fs.close().await;
            key.secret
        });
        server.launch();
        server
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("nexus.yaml")
    }

    fn config(&self) -> Config {
        Config::load_from(&self.config_path(), &lookup).unwrap()
    }

    /// Serves (again) on a free port.
    pub fn launch(&mut self) {
        let config = self.config();
        let fault = self.fault;
        let (bound, address) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime().block_on(async move {
                let fs = config
                    .open(StoreOptions::default())
                    .await
                    .map_err(|error| error.to_string())?;
                if let Some(fault) = fault {
                    fs.inject_fault(fault);
                }
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .map_err(|error| error.to_string())?;
                bound
                    .send(listener.local_addr().map_err(|error| error.to_string())?)
                    .map_err(|error| error.to_string())?;
                let served = nexus_server::serve(&config, fs.clone(), listener, async {
                    let _ = stopped.await;
                })
                .await;
                fs.close().await;
                served.map_err(|error| error.to_string())
            })
        });
        self.address = address.recv().expect("the server stopped before listening");
        self.running = Some(Running { stop, thread });
    }

    /// Shuts the server down gracefully and waits; returns whether it stopped cleanly.
    pub fn stop(&mut self) -> bool {
        let Some(running) = self.running.take() else {
            return true;
        };
        let _ = running.stop.send(());
        matches!(running.thread.join(), Ok(Ok(())))
    }
}

impl Api for Server {
    fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        if let Some(storage) = self.scale_out.take()
            && let Err(error) = runtime().block_on(storage.drop_schema())
        {
            eprintln!("could not drop the test's schema: {error}");
        }
    }
}

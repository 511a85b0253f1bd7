//! `nexus_native`: the Nexus core inside a Python process. It serves the REST API's router
//! in-process over an embedded data directory, so the Python `NexusClient` sends exactly the
//! requests `RemoteNexusClient` sends and reads exactly the same answers, without a server.

use axum::body::Body;
use axum::http::{Method, Request};
use nexus_core::{Fs, StoreOptions};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use tower::ServiceExt as _;

/// Headers and body of an answer: `(status, [(name, value)], content)`.
type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// An open data directory and the API over it.
#[pyclass(module = "nexus_native")]
struct Embedded {
    runtime: tokio::runtime::Runtime,
    fs: Fs,
    router: axum::Router,
}

#[pymethods]
impl Embedded {
    /// Opens (creating if needed) the data directory.
    #[new]
    fn new(data_dir: &str) -> PyResult<Embedded> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|error| PyOSError::new_err(format!("cannot start the runtime: {error}")))?;
        let fs = runtime
            .block_on(Fs::open(
                std::path::Path::new(data_dir),
                StoreOptions::default(),
            ))
            .map_err(|error| PyOSError::new_err(error.to_string()))?;
        let router = nexus_server::embedded_router(fs.clone());
        Ok(Embedded {
            runtime,
            fs,
            router,
        })
    }

    /// Serves one request in-process: method, path with query string, headers, body.
    fn request(
        &self,
        py: Python<'_>,
        method: &str,
        target: &str,
        headers: Vec<(String, String)>,
        body: Option<Vec<u8>>,
    ) -> PyResult<Answer> {
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|error| PyValueError::new_err(error.to_string()))?;
        let mut request = Request::builder().method(method).uri(target);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let request = request
            .body(Body::from(body.unwrap_or_default()))
            .map_err(|error| PyValueError::new_err(error.to_string()))?;
        let router = self.router.clone();
        let runtime = &self.runtime;
        py.detach(|| {
            runtime.block_on(async move {
                let response = router
                    .oneshot(request)
                    .await
                    .map_err(|error| PyOSError::new_err(error.to_string()))?;
                let status = response.status().as_u16();
                let headers = response
                    .headers()
                    .iter()
                    .filter_map(|(name, value)| {
                        Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
                    })
                    .collect();
                let content = axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .map_err(|error| PyOSError::new_err(error.to_string()))?;
                Ok((status, headers, content.to_vec()))
            })
        })
    }

    /// Waits for queued commits and releases the data directory.
    fn close(&self, py: Python<'_>) {
        let fs = self.fs.clone();
        py.detach(|| self.runtime.block_on(fs.close()));
    }
}

#[pymodule]
fn nexus_native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Embedded>()
}

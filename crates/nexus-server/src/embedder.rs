//! An OpenAI-compatible embeddings endpoint as an [`Embedder`]: `POST {url}/embeddings`
//! with `{"model", "input": [texts]}`, answered by `{"data": [{"index", "embedding"}]}`
//! (the `OpenAI` API, Ollama, llama.cpp, vLLM and others speak it).

use std::time::Duration;

use nexus_core::{EmbedError, Embedder, Embedding};
use serde::Deserialize;

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// An embeddings endpoint.
pub struct Endpoint {
    id: String,
    url: String,
    model: String,
    api_key: Option<String>,
    dimensions: usize,
    client: reqwest::Client,
}

impl std::fmt::Debug for Endpoint {
    /// Everything but the API key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("id", &self.id)
            .field("dimensions", &self.dimensions)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Answer {
    data: Vec<Datum>,
}

#[derive(Deserialize)]
struct Datum {
    #[serde(default)]
    index: Option<usize>,
    embedding: Vec<f32>,
}

impl Endpoint {
    /// The endpoint at `url` (its `/embeddings` is called) for `model`; without
    /// `dimensions`, one text is embedded now to learn them.
    pub async fn connect(
        url: &str,
        model: &str,
        api_key: Option<String>,
        dimensions: Option<usize>,
    ) -> Result<Endpoint, EmbedError> {
        install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|error| EmbedError::Failed(error.to_string()))?;
        let mut endpoint = Endpoint {
            id: String::new(),
            url: format!("{}/embeddings", url.trim_end_matches('/')),
            model: model.to_owned(),
            api_key,
            dimensions: dimensions.unwrap_or(0),
            client,
        };
        if dimensions.is_none() {
            let probe = endpoint
                .request(&["dimensions".to_owned()])
                .await
                .map_err(|error| {
                    EmbedError::Failed(format!(
                        "{error} (asked for the vectors' length at start; give `dimensions` to start without the endpoint)"
                    ))
                })?;
            endpoint.dimensions = probe.first().map_or(0, Vec::len);
            if endpoint.dimensions == 0 {
                return Err(EmbedError::Failed(
                    "the endpoint answered an empty vector".to_owned(),
                ));
            }
        }
        endpoint.id = format!("openai:{}:{}:{}", endpoint.url, model, endpoint.dimensions);
        Ok(endpoint)
    }

    async fn request(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let failed = |what: String| EmbedError::Failed(format!("{}: {what}", self.url));
        let mut request = self
            .client
            .post(&self.url)
            .json(&serde_json::json!({"model": self.model, "input": texts}));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request
            .send()
            .await
            .map_err(|error| failed(error.to_string()))?;
        let status = response.status();
        if status.is_client_error()
            && status != reqwest::StatusCode::REQUEST_TIMEOUT
            && status != reqwest::StatusCode::TOO_MANY_REQUESTS
        {
            // The same texts would be refused again (too long, say).
            return Err(EmbedError::Refused(format!(
                "{}: answered {status}",
                self.url
            )));
        }
        if !status.is_success() {
            return Err(failed(format!("answered {status}")));
        }
        let answer: Answer = response
            .json()
            .await
            .map_err(|error| failed(format!("not an embeddings answer: {error}")))?;
        if answer.data.len() != texts.len() {
            return Err(failed(format!(
                "{} vectors for {} texts",
                answer.data.len(),
                texts.len()
            )));
        }
        let mut vectors = vec![Vec::new(); texts.len()];
        for (position, datum) in answer.data.into_iter().enumerate() {
            let slot = datum.index.unwrap_or(position);
            match vectors.get_mut(slot) {
                Some(vector) if vector.is_empty() => {
                    *vector = datum.embedding;
                    nexus_core::normalize(vector);
                }
                _ => return Err(failed(format!("the vector of text {slot} is misplaced"))),
            }
        }
        Ok(vectors)
    }
}

impl Embedder for Endpoint {
    fn id(&self) -> &str {
        &self.id
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn embed<'a>(&'a self, texts: &'a [String]) -> Embedding<'a> {
        Box::pin(async move {
            let vectors = self.request(texts).await?;
            if vectors.iter().any(|vector| vector.len() != self.dimensions) {
                return Err(EmbedError::Failed(format!(
                    "{}: vectors of another length than {}",
                    self.url, self.dimensions
                )));
            }
            Ok(vectors)
        })
    }
}

/// HTTPS through rustls with ring: installs the process's default TLS provider (another
/// part of the process may have installed the same one already).
fn install_tls_provider() {
    #[expect(
        deprecated,
        reason = "ring's provider lacks post-quantum key exchange; the alternative, aws-lc-rs, needs a C and assembler build"
    )]
    let provider = rustls::crypto::ring::default_provider();
    let _ = provider.install_default();
}

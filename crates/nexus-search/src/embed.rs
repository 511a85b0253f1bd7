//! Embedders: text in, one vector per text out, for semantic search.
//!
//! [`StaticModel`] runs a static embedding model (the `Model2Vec` format) on the CPU from a
//! local directory, with no network: tokenize, look each token's vector up, average, and
//! normalize. Other embedders (an OpenAI-compatible endpoint) implement [`Embedder`] where
//! their transport lives.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

/// Most tokens of one text that count (the rest is not embedded).
const MAX_TOKENS: usize = 512;
/// Most characters of one text handed to the tokenizer.
const MAX_CHARS: usize = 8192;

/// What an embedder could not do.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The model could not be loaded (a configuration problem: said at start).
    #[error("the embedding model at {path}: {message}")]
    Model { path: PathBuf, message: String },
    /// The texts could not be embedded now (an endpoint down or answering nonsense).
    #[error("embedding: {0}")]
    Failed(String),
    /// The texts were refused for good (an endpoint answering 4xx: too long, say); the
    /// same texts would be refused again.
    #[error("embedding refused: {0}")]
    Refused(String),
}

/// A future an embedder returns.
pub type Embedding<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<Vec<f32>>, EmbedError>> + Send + 'a>>;

/// Turns texts into vectors of one fixed length, the same text always into the same vector.
pub trait Embedder: Send + Sync + std::fmt::Debug {
    /// What the vectors come from (model and dimensions): an index built by another
    /// embedder is rebuilt.
    fn id(&self) -> &str;

    /// The length of every vector.
    fn dimensions(&self) -> usize;

    /// One unit-length vector per text, in order.
    fn embed<'a>(&'a self, texts: &'a [String]) -> Embedding<'a>;

    /// The same, computed here and now, for an embedder that runs on this machine's CPU
    /// (`None`: it waits on something else, e.g. an endpoint; use [`Embedder::embed`]).
    /// Callers run it off their async workers.
    fn embed_now(&self, texts: &[String]) -> Option<Result<Vec<Vec<f32>>, EmbedError>> {
        let _ = texts;
        None
    }
}

/// Scales `vector` to unit length (a zero vector stays zero).
pub fn normalize(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in vector.iter_mut() {
            *x /= norm;
        }
    }
}

/// The cosine similarity of two unit vectors (their dot product); 0 when the lengths differ.
/// Summed in eight lanes, which the compiler turns into vector instructions.
pub fn similarity(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (a_lanes, a_rest) = a.as_chunks::<8>();
    let (b_lanes, b_rest) = b.as_chunks::<8>();
    let mut lanes = [0.0f32; 8];
    for (x, y) in a_lanes.iter().zip(b_lanes) {
        for ((lane, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *lane += x * y;
        }
    }
    let rest: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + rest
}

/// A static embedding model in the `Model2Vec` layout: a directory with `model.safetensors`
/// (an `embeddings` matrix of one row per token, `F32` or `F16`; optionally `weights`, one
/// factor per token, and `mappings`, the row of each token) and `tokenizer.json` (a Hugging
/// Face tokenizer).
pub struct StaticModel {
    id: String,
    tokenizer: tokenizers::Tokenizer,
    /// Row-major, `rows × dimensions`.
    embeddings: Vec<f32>,
    dimensions: usize,
    weights: Option<Vec<f32>>,
    mappings: Option<Vec<usize>>,
    unknown: Option<u32>,
}

impl std::fmt::Debug for StaticModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticModel")
            .field("id", &self.id)
            .field("dimensions", &self.dimensions)
            .finish_non_exhaustive()
    }
}

impl StaticModel {
    /// Loads the model in `dir`.
    pub fn load(dir: &Path) -> Result<StaticModel, EmbedError> {
        let problem = |message: String| EmbedError::Model {
            path: dir.to_owned(),
            message,
        };
        let tokenizer = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|error| problem(format!("tokenizer.json: {error}")))?;
        let bytes = std::fs::read(dir.join("model.safetensors"))
            .map_err(|error| problem(format!("model.safetensors: {error}")))?;
        let tensors = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|error| problem(format!("model.safetensors: {error}")))?;
        let matrix = tensors
            .tensor("embeddings")
            .map_err(|_| problem("model.safetensors has no `embeddings` tensor".to_owned()))?;
        let [rows, dimensions] = matrix.shape() else {
            return Err(problem("`embeddings` is not a matrix".to_owned()));
        };
        let (rows, dimensions) = (*rows, *dimensions);
        if rows == 0 || dimensions == 0 {
            return Err(problem("`embeddings` is empty".to_owned()));
        }
        let embeddings =
            floats(&matrix).map_err(|message| problem(format!("`embeddings`: {message}")))?;
        let weights = match tensors.tensor("weights") {
            Ok(view) => {
                Some(floats(&view).map_err(|message| problem(format!("`weights`: {message}")))?)
            }
            Err(_) => None,
        };
        let mappings = match tensors.tensor("mappings") {
            Ok(view) => Some(
                indices(&view, rows)
                    .map_err(|message| problem(format!("`mappings`: {message}")))?,
            ),
            Err(_) => None,
        };
        let vocabulary = tokenizer.get_vocab_size(true);
        let token_rows = mappings.as_ref().map_or(rows, Vec::len);
        if token_rows < vocabulary
            || weights
                .as_ref()
                .is_some_and(|weights| weights.len() < vocabulary)
        {
            return Err(problem(format!(
                "the tokenizer has {vocabulary} tokens, the model {token_rows} rows"
            )));
        }
        let unknown = ["[UNK]", "<unk>"]
            .iter()
            .find_map(|token| tokenizer.token_to_id(token));
        let name = dir.file_name().map_or_else(
            || "model".to_owned(),
            |name| name.to_string_lossy().into_owned(),
        );
        // The weights and the tokenizer: either changing means other vectors.
        let tokenizer_bytes = std::fs::read(dir.join("tokenizer.json"))
            .map_err(|error| problem(format!("tokenizer.json: {error}")))?;
        let mut hasher = blake3::Hasher::new();
        hasher.update(&bytes);
        hasher.update(&tokenizer_bytes);
        let fingerprint = hasher.finalize().to_hex();
        Ok(StaticModel {
            id: format!(
                "static:{name}:{dimensions}:{}",
                fingerprint.get(..16).unwrap_or_default()
            ),
            tokenizer,
            embeddings,
            dimensions,
            weights,
            mappings,
            unknown,
        })
    }

    /// The vector of one text: the mean of its tokens' rows (unknown tokens left out),
    /// unit length; zero when no token is known.
    pub fn encode(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let text = match text.char_indices().nth(MAX_CHARS) {
            Some((cut, _)) => text.get(..cut).unwrap_or(text),
            None => text,
        };
        let encoding = self
            .tokenizer
            .encode_fast(text, false)
            .map_err(|error| EmbedError::Failed(error.to_string()))?;
        let mut sum = vec![0.0f32; self.dimensions];
        let mut count = 0usize;
        for &id in encoding.get_ids().iter().take(MAX_TOKENS) {
            if Some(id) == self.unknown {
                continue;
            }
            let token = id as usize;
            let row = match &self.mappings {
                Some(mappings) => mappings.get(token).copied(),
                None => Some(token),
            };
            let Some(values) = row.and_then(|row| {
                self.embeddings
                    .get(row * self.dimensions..(row + 1) * self.dimensions)
            }) else {
                continue;
            };
            let weight = self
                .weights
                .as_ref()
                .and_then(|weights| weights.get(token).copied())
                .unwrap_or(1.0);
            sum.iter_mut()
                .zip(values)
                .for_each(|(total, value)| *total += weight * value);
            count += 1;
        }
        if count > 0 {
            #[expect(clippy::cast_precision_loss, reason = "at most 512 tokens")]
            let count = count as f32;
            for x in &mut sum {
                *x /= count;
            }
        }
        normalize(&mut sum);
        Ok(sum)
    }
}

impl Embedder for StaticModel {
    fn id(&self) -> &str {
        &self.id
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn embed<'a>(&'a self, texts: &'a [String]) -> Embedding<'a> {
        let vectors = texts.iter().map(|text| self.encode(text)).collect();
        Box::pin(std::future::ready(vectors))
    }

    fn embed_now(&self, texts: &[String]) -> Option<Result<Vec<Vec<f32>>, EmbedError>> {
        Some(texts.iter().map(|text| self.encode(text)).collect())
    }
}

/// A tensor's values as `f32` (from `F32` or `F16`).
fn floats(view: &safetensors::tensor::TensorView<'_>) -> Result<Vec<f32>, String> {
    let data = view.data();
    match view.dtype() {
        safetensors::Dtype::F32 => Ok(data
            .chunks_exact(4)
            .map(|bytes| <[u8; 4]>::try_from(bytes).map_or(0.0, f32::from_le_bytes))
            .collect()),
        safetensors::Dtype::F16 => Ok(data
            .chunks_exact(2)
            .map(|bytes| {
                <[u8; 2]>::try_from(bytes)
                    .map_or(0.0, |bytes| half::f16::from_le_bytes(bytes).to_f32())
            })
            .collect()),
        other => Err(format!(
            "values of type {other:?} are not supported (F32 or F16)"
        )),
    }
}

/// A tensor's values as row numbers below `rows` (from `I32` or `I64`).
fn indices(view: &safetensors::tensor::TensorView<'_>, rows: usize) -> Result<Vec<usize>, String> {
    let data = view.data();
    let values: Vec<i64> = match view.dtype() {
        safetensors::Dtype::I32 => data
            .chunks_exact(4)
            .map(|bytes| {
                <[u8; 4]>::try_from(bytes).map_or(-1, |bytes| i64::from(i32::from_le_bytes(bytes)))
            })
            .collect(),
        safetensors::Dtype::I64 => data
            .chunks_exact(8)
            .map(|bytes| <[u8; 8]>::try_from(bytes).map_or(-1, i64::from_le_bytes))
            .collect(),
        other => {
            return Err(format!(
                "values of type {other:?} are not supported (I32 or I64)"
            ));
        }
    };
    values
        .into_iter()
        .map(|value| {
            usize::try_from(value)
                .ok()
                .filter(|row| *row < rows)
                .ok_or_else(|| format!("row {value} is not in the matrix"))
        })
        .collect()
}

/// Writes a static model in the layout [`StaticModel::load`] reads: a `WordPiece` tokenizer
/// (lower-cased, split at spaces and punctuation) over `[UNK]` and `tokens`, and one row per
/// token. For tests and benchmarks, which build their models instead of downloading them.
pub fn write_static_model(dir: &Path, tokens: &[(String, Vec<f32>)]) -> Result<(), EmbedError> {
    let problem = |message: String| EmbedError::Model {
        path: dir.to_owned(),
        message,
    };
    let dimensions = tokens.first().map_or(0, |(_, vector)| vector.len());
    if dimensions == 0 || tokens.iter().any(|(_, vector)| vector.len() != dimensions) {
        return Err(problem(
            "every token needs a vector of one same, non-zero length".to_owned(),
        ));
    }
    let mut vocabulary = serde_json::Map::new();
    vocabulary.insert("[UNK]".to_owned(), 0.into());
    let mut values = vec![0.0f32; dimensions];
    for (token, vector) in tokens {
        let id = vocabulary.len();
        if vocabulary.insert(token.clone(), id.into()).is_some() {
            return Err(problem(format!("the token `{token}` is given twice")));
        }
        values.extend_from_slice(vector);
    }
    let tokenizer = serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [],
        "normalizer": {"type": "BertNormalizer", "clean_text": true,
                       "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": null,
        "decoder": null,
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocabulary},
    });
    let io = |error: std::io::Error| problem(error.to_string());
    std::fs::create_dir_all(dir).map_err(io)?;
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).map_err(io)?;
    let bytes = super::vectors::to_bytes(&values);
    let view = safetensors::tensor::TensorView::new(
        safetensors::Dtype::F32,
        vec![tokens.len() + 1, dimensions],
        &bytes,
    )
    .map_err(|error| problem(error.to_string()))?;
    let model = safetensors::serialize([("embeddings", view)], None)
        .map_err(|error| problem(error.to_string()))?;
    std::fs::write(dir.join("model.safetensors"), model).map_err(io)?;
    Ok(())
}

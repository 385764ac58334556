//! The sentence encoder: all-MiniLM-L6-v2 run in Rust with `candle`, tokenised with `tokenizers`.
//!
//! A sentence becomes a 384-dimensional unit vector (mean of the last layer's token vectors, as the
//! model was trained by sentence-transformers). Intents and FAQ answers are both found by comparing
//! these vectors, so the encoder is loaded once and shared.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

use crate::models::{ModelDir, ModelError};

/// Tokens kept per utterance: callers' turns are short; 128 word pieces is ~90 words.
const MAX_TOKENS: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("cannot load the sentence encoder from {path}: {reason}; fetch it again with `helpline models fetch --force minilm`")]
    Load { path: PathBuf, reason: String },
    #[error("encoding failed: {0}")]
    Encode(String),
}

pub struct SentenceEncoder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    /// The last few single sentences encoded: a dialogue turn reads the caller's words for intent and
    /// then, often, for the FAQ; the second read is free.
    recent: std::sync::Mutex<lru::LruCache<String, Tensor>>,
}

/// Sentences remembered by [`SentenceEncoder::encode`]: a few turns' worth, across concurrent calls.
const RECENT_SENTENCES: usize = 64;

impl SentenceEncoder {
    pub fn load(models: &ModelDir) -> Result<Self, EncoderError> {
        let dir = models.root().join("minilm");
        let weights = models.require("sentence encoder weights", dir.join("model.safetensors"))?;
        let config_path = models.require("sentence encoder config", dir.join("config.json"))?;
        let tokenizer_path = models.require("sentence encoder tokenizer", dir.join("tokenizer.json"))?;
        let load_err = |path: &Path, reason: String| EncoderError::Load { path: path.into(), reason };
        let config: Config = serde_json::from_str(
            &std::fs::read_to_string(&config_path).map_err(|e| load_err(&config_path, e.to_string()))?,
        )
        .map_err(|e| load_err(&config_path, e.to_string()))?;
        let device = Device::Cpu;
        // SAFETY: the file is memory-mapped read-only; it is not modified while the model lives.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, &device) }
            .map_err(|e| load_err(&weights, e.to_string()))?;
        let model = BertModel::load(vb, &config).map_err(|e| load_err(&weights, e.to_string()))?;
        let mut tokenizer =
            Tokenizer::from_file(&tokenizer_path).map_err(|e| load_err(&tokenizer_path, e.to_string()))?;
        tokenizer.with_padding(Some(PaddingParams::default()));
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(|e| load_err(&tokenizer_path, e.to_string()))?;
        let recent = std::sync::Mutex::new(lru::LruCache::new(
            std::num::NonZeroUsize::new(RECENT_SENTENCES).expect("a non-zero capacity"),
        ));
        Ok(Self { model, tokenizer, device, recent })
    }

    /// Forget the remembered sentences (benchmarks replaying the same words measure real encoding).
    pub fn forget_recent(&self) {
        if let Ok(mut recent) = self.recent.lock() {
            recent.clear();
        }
    }

    pub fn dimension(&self) -> usize {
        384
    }

    /// Unit-length sentence vectors, one row per text, as a `[n, 384]` tensor.
    pub fn encode(&self, texts: &[&str]) -> Result<Tensor, EncoderError> {
        let fail = |e: &dyn std::fmt::Display| EncoderError::Encode(e.to_string());
        if texts.is_empty() {
            return Tensor::zeros((0, self.dimension()), DType::F32, &self.device).map_err(|e| fail(&e));
        }
        if let [text] = texts {
            if let Some(vector) = self.recent.lock().ok().and_then(|mut recent| recent.get(*text).cloned()) {
                return Ok(vector);
            }
            let vector = self.encode_uncached(texts)?;
            if let Ok(mut recent) = self.recent.lock() {
                recent.put(text.to_string(), vector.clone());
            }
            return Ok(vector);
        }
        self.encode_uncached(texts)
    }

    fn encode_uncached(&self, texts: &[&str]) -> Result<Tensor, EncoderError> {
        let fail = |e: &dyn std::fmt::Display| EncoderError::Encode(e.to_string());
        let encodings = self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| fail(&e))?;
        let ids: Vec<Tensor> = encodings
            .iter()
            .map(|e| Tensor::new(e.get_ids(), &self.device))
            .collect::<Result<_, _>>()
            .map_err(|e| fail(&e))?;
        let masks: Vec<Tensor> = encodings
            .iter()
            .map(|e| Tensor::new(e.get_attention_mask(), &self.device))
            .collect::<Result<_, _>>()
            .map_err(|e| fail(&e))?;
        let ids = Tensor::stack(&ids, 0).map_err(|e| fail(&e))?;
        let mask = Tensor::stack(&masks, 0).map_err(|e| fail(&e))?;
        let token_types = ids.zeros_like().map_err(|e| fail(&e))?;
        let hidden = self.model.forward(&ids, &token_types, Some(&mask)).map_err(|e| fail(&e))?;
        mean_pool_normalized(&hidden, &mask).map_err(|e| fail(&e))
    }

    /// Encode many texts in batches (sorted by length so padding stays small), rows in input order.
    pub fn encode_all(&self, texts: &[String], mut progress: impl FnMut(usize)) -> Result<Tensor, EncoderError> {
        const BATCH: usize = 32;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut rows: Vec<Option<Tensor>> = vec![None; texts.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
            let vectors = self.encode(&batch)?;
            for (row, &i) in chunk.iter().enumerate() {
                rows[i] = Some(vectors.get(row).map_err(|e| EncoderError::Encode(e.to_string()))?);
            }
            progress(chunk.len());
        }
        let rows: Vec<Tensor> = rows.into_iter().flatten().collect();
        if rows.is_empty() {
            return self.encode(&[]);
        }
        Tensor::stack(&rows, 0).map_err(|e| EncoderError::Encode(e.to_string()))
    }
}

/// Mean of the token vectors that are not padding, scaled to unit length.
fn mean_pool_normalized(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.clamp(1.0, f64::MAX)?;
    let mean = summed.broadcast_div(&counts)?;
    let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
    mean.broadcast_div(&norm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paraphrases_are_closer_than_unrelated_sentences() {
        let models = ModelDir::locate(None).expect("models");
        let encoder = SentenceEncoder::load(&models).expect("encoder");
        let v = encoder
            .encode(&["I lost my credit card", "my card is missing, I can't find it", "what time does the branch open"])
            .expect("encode");
        let v: Vec<Vec<f32>> = v.to_vec2().expect("vec");
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        assert!((dot(&v[0], &v[0]) - 1.0).abs() < 1e-4, "unit length");
        assert!(dot(&v[0], &v[1]) > dot(&v[0], &v[2]) + 0.2, "{} vs {}", dot(&v[0], &v[1]), dot(&v[0], &v[2]));
        // Batch padding must not change a sentence's vector.
        let alone: Vec<Vec<f32>> = encoder.encode(&["I lost my credit card"]).expect("encode").to_vec2().expect("vec");
        assert!(alone[0].iter().zip(&v[0]).all(|(a, b)| (a - b).abs() < 1e-4));
    }
}

//! A Piper voice (a VITS model exported to ONNX) run with ONNX Runtime through `ort`.
//!
//! Each sentence becomes espeak-ng IPA phonemes (with clause punctuation, see [`super::espeak`]), then
//! ids through the voice's `phoneme_id_map` laid out as Piper expects, `^ _ (id _)* $`, then one run of
//! the model, which returns the sentence's audio at the voice's sample rate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use ort::environment::Environment;
use ort::session::Session;
use ort::value::Tensor;
use serde::Deserialize;

use super::{espeak, prepare, SpokenSentence, Synthesizer, TtsError};
use crate::models::{init_onnx_runtime, ModelDir, ModelError};
use std::ops::ControlFlow;

/// Peak level each sentence is scaled to. Piper normalises every sentence's peak (to full scale); a
/// little headroom is left here because resampling to 8 kHz for the phone line overshoots peaks.
const PEAK: f32 = 0.9;

/// The parts of a Piper voice's `.onnx.json` that synthesis needs.
#[derive(Debug, Clone)]
pub struct VoiceConfig {
    pub sample_rate: u32,
    /// espeak-ng voice for the phonemes ("en-us").
    pub espeak_voice: String,
    pub noise_scale: f32,
    pub length_scale: f32,
    pub noise_w: f32,
    phoneme_ids: HashMap<char, Vec<i64>>,
    /// Ids of the sentence start `^`, end `$` and the pad `_` written after every phoneme.
    bos: Vec<i64>,
    eos: Vec<i64>,
    pad: Vec<i64>,
}

#[derive(Deserialize)]
struct RawConfig {
    audio: RawAudio,
    espeak: Option<RawEspeak>,
    #[serde(default)]
    inference: RawInference,
    phoneme_type: Option<String>,
    phoneme_id_map: HashMap<String, Vec<i64>>,
}

#[derive(Deserialize)]
struct RawAudio {
    sample_rate: u32,
}

#[derive(Deserialize)]
struct RawEspeak {
    voice: String,
}

#[derive(Deserialize)]
#[serde(default)]
struct RawInference {
    noise_scale: f32,
    length_scale: f32,
    noise_w: f32,
}

impl Default for RawInference {
    /// Piper's defaults, for configs that leave them out.
    fn default() -> Self {
        Self { noise_scale: 0.667, length_scale: 1.0, noise_w: 0.8 }
    }
}

impl VoiceConfig {
    /// Read and check a voice config; errors name the file (and the line, for bad JSON).
    pub fn from_file(path: &Path) -> Result<Self, TtsError> {
        let text = std::fs::read_to_string(path).map_err(|source| TtsError::Io { path: path.to_path_buf(), source })?;
        Self::parse(&text, path)
    }

    fn parse(text: &str, path: &Path) -> Result<Self, TtsError> {
        let raw: RawConfig = serde_json::from_str(text).map_err(|e| TtsError::Config {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            reason: e.to_string(),
        })?;
        let unusable = |reason: String| TtsError::ConfigContent { path: path.to_path_buf(), reason };
        if let Some(kind) = raw.phoneme_type.as_deref().filter(|kind| *kind != "espeak") {
            return Err(unusable(format!("phoneme_type is {kind:?}; only espeak-ng phoneme voices are supported")));
        }
        if raw.audio.sample_rate == 0 {
            return Err(unusable("audio.sample_rate is 0".into()));
        }
        let mut phoneme_ids = HashMap::new();
        for (key, ids) in raw.phoneme_id_map {
            let mut chars = key.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if !ids.is_empty() => {
                    phoneme_ids.insert(c, ids);
                }
                _ => tracing::debug!(
                    "{}: ignoring phoneme_id_map entry {key:?} (not one character with ids)",
                    path.display()
                ),
            }
        }
        let special = |symbol: char| {
            phoneme_ids.get(&symbol).cloned().ok_or_else(|| {
                unusable(format!("phoneme_id_map has no {symbol:?} (Piper's start, end and pad symbols are ^ $ _)"))
            })
        };
        Ok(Self {
            sample_rate: raw.audio.sample_rate,
            espeak_voice: raw.espeak.map_or_else(|| "en-us".to_string(), |e| e.voice),
            noise_scale: raw.inference.noise_scale,
            length_scale: raw.inference.length_scale,
            noise_w: raw.inference.noise_w,
            bos: special('^')?,
            eos: special('$')?,
            pad: special('_')?,
            phoneme_ids,
        })
    }

    /// Model input ids for a phoneme string: `^ _ (id _)* $`. Phonemes not in the map are skipped with
    /// a debug log, as Piper does.
    pub fn ids(&self, phonemes: &str) -> Vec<i64> {
        let mut ids = Vec::with_capacity(2 * phonemes.len() + 3);
        ids.extend(&self.bos);
        ids.extend(&self.pad);
        for phoneme in phonemes.chars().flat_map(decompose) {
            match self.phoneme_ids.get(&phoneme) {
                Some(id) => {
                    ids.extend(id);
                    ids.extend(&self.pad);
                }
                None => {
                    tracing::debug!("phoneme {phoneme:?} (U+{:04X}) is not in the voice's map; skipped", phoneme as u32)
                }
            }
        }
        ids.extend(&self.eos);
        ids
    }
}

/// Piper maps phonemes after Unicode NFD decomposition ("ç" → "c" + combining cedilla), so its maps
/// list the combining marks. The few precomposed letters espeak-ng emits are decomposed here.
fn decompose(c: char) -> impl Iterator<Item = char> {
    let (base, mark) = match c {
        'ç' => ('c', Some('\u{0327}')),
        'ã' => ('a', Some('\u{0303}')),
        'ẽ' => ('e', Some('\u{0303}')),
        'ĩ' => ('i', Some('\u{0303}')),
        'õ' => ('o', Some('\u{0303}')),
        'ũ' => ('u', Some('\u{0303}')),
        'ñ' => ('n', Some('\u{0303}')),
        other => (other, None),
    };
    std::iter::once(base).chain(mark)
}

/// A loaded Piper voice. Synthesis runs one sentence at a time; concurrent callers take turns on the
/// one ONNX session (load another voice for real parallelism).
pub struct PiperVoice {
    config: VoiceConfig,
    session: Mutex<Session>,
    output_name: String,
    /// Multi-speaker voices take a speaker id; this one speaks as speaker 0.
    takes_speaker_id: bool,
}

/// Where Piper keeps a voice's config: beside the model, `.json` appended.
pub fn config_path(onnx: &Path) -> PathBuf {
    let mut path = onnx.as_os_str().to_owned();
    path.push(".json");
    PathBuf::from(path)
}

impl PiperVoice {
    /// Load the voice from the models directory, with `threads` ONNX Runtime intra-op threads (1 is
    /// best when other work competes for the CPU; 2 when the voice has cores to itself).
    pub fn load(models: &ModelDir, threads: usize) -> Result<Self, TtsError> {
        let onnx = models.require("Piper voice", models.piper_voice())?;
        let json = models.require("Piper voice config", config_path(&onnx))?;
        let runtime = init_onnx_runtime(models)?;
        Self::load_from(runtime, &onnx, &json, threads)
    }

    /// Load a voice from explicit files, with ONNX Runtime already loaded (see
    /// [`crate::models::init_onnx_runtime`]).
    pub fn load_from(runtime: &Environment, onnx: &Path, json: &Path, threads: usize) -> Result<Self, TtsError> {
        for (what, path) in [("Piper voice", onnx), ("Piper voice config", json)] {
            if !path.is_file() {
                return Err(ModelError::Missing { what, path: path.to_path_buf() }.into());
            }
        }
        let config = VoiceConfig::from_file(json)?;
        let started = Instant::now();
        let failed = |reason: String| TtsError::LoadVoice { path: onnx.to_path_buf(), reason };
        let error = |e: ort::Error<ort::session::builder::SessionBuilder>| failed(e.to_string());
        let session = Session::builder(runtime)
            .map_err(|e| failed(e.to_string()))?
            .with_intra_threads(threads.max(1))
            .map_err(error)?
            .with_inter_threads(1)
            .map_err(error)?
            // Spinning threads burn a core while waiting for work; on a small box the recogniser and
            // the phone line need that core more than the voice needs the last millisecond (measured:
            // no difference in the voice's own speed).
            .with_intra_op_spinning(false)
            .map_err(error)?
            .commit_from_file(onnx)
            .map_err(|e| failed(e.to_string()))?;

        let input_names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        for needed in ["input", "input_lengths", "scales"] {
            if !input_names.contains(&needed) {
                return Err(failed(format!(
                    "the model has no {needed:?} input (inputs: {input_names:?}); is it a Piper voice?"
                )));
            }
        }
        let takes_speaker_id = input_names.contains(&"sid");
        let output_name = session
            .outputs()
            .first()
            .map(|o| o.name().to_string())
            .ok_or_else(|| failed("the model has no outputs".into()))?;
        tracing::debug!("loaded Piper voice {} in {:.2?}", onnx.display(), started.elapsed());
        Ok(Self { config, session: Mutex::new(session), output_name, takes_speaker_id })
    }

    pub fn config(&self) -> &VoiceConfig {
        &self.config
    }

    /// espeak-ng phonemes for one sentence of normalised text, clause punctuation kept, ending in
    /// sentence punctuation ("Hello, world" → "həlˈoʊ, wˈɜːld.").
    pub fn phonemes(&self, spoken: &str) -> Result<String, TtsError> {
        let mut phonemes = espeak::phonemize(spoken, &self.config.espeak_voice)?;
        // An unpunctuated sentence (a list item, a heading) still ends: give it the full stop the
        // voice was trained to fall in pitch at.
        if !phonemes.is_empty() && !phonemes.ends_with(['.', '?', '!', ',', ';', ':']) {
            phonemes.push('.');
        }
        Ok(phonemes)
    }

    /// Model input ids for one sentence of normalised text.
    pub fn phoneme_ids(&self, spoken: &str) -> Result<Vec<i64>, TtsError> {
        Ok(self.config.ids(&self.phonemes(spoken)?))
    }

    /// Audio for one sentence of normalised text; empty if espeak-ng found nothing to say in it.
    fn render(&self, spoken: &str) -> Result<Vec<f32>, TtsError> {
        let phonemes = self.phonemes(spoken)?;
        if phonemes.is_empty() {
            return Ok(Vec::new());
        }
        let ids = self.config.ids(&phonemes);
        if ids.len() <= self.config.ids("").len() {
            return Ok(Vec::new()); // every phoneme was missing from the voice's map
        }
        let started = Instant::now();
        let mut audio =
            self.infer(ids).map_err(|reason| TtsError::Inference { sentence: spoken.to_string(), reason })?;
        normalize_peak(&mut audio);
        tracing::debug!(
            "synthesised {:.2} s of audio in {:.3} s: {phonemes}",
            audio.len() as f64 / f64::from(self.config.sample_rate),
            started.elapsed().as_secs_f64()
        );
        Ok(audio)
    }

    fn infer(&self, ids: Vec<i64>) -> Result<Vec<f32>, String> {
        let length = ids.len();
        let tensor_error = |e: ort::Error| e.to_string();
        let input = Tensor::from_array(([1usize, length], ids)).map_err(tensor_error)?;
        let lengths = Tensor::from_array(([1usize], vec![length as i64])).map_err(tensor_error)?;
        let c = &self.config;
        let scales =
            Tensor::from_array(([3usize], vec![c.noise_scale, c.length_scale, c.noise_w])).map_err(tensor_error)?;
        let mut inputs = ort::inputs!["input" => input, "input_lengths" => lengths, "scales" => scales];
        if self.takes_speaker_id {
            let speaker = Tensor::from_array(([1usize], vec![0i64])).map_err(tensor_error)?;
            inputs.push(("sid".into(), speaker.into()));
        }
        let mut session = self.session.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let outputs = session.run(inputs).map_err(|e| e.to_string())?;
        let output = outputs.get(&self.output_name).ok_or("the model returned no audio")?;
        let (_, samples) = output.try_extract_tensor::<f32>().map_err(|e| e.to_string())?;
        Ok(samples.to_vec())
    }
}

/// Scale audio so its peak is [`PEAK`] (silence stays silence).
fn normalize_peak(audio: &mut [f32]) {
    let peak = audio.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    if peak > 1e-6 && peak.is_finite() {
        let gain = PEAK / peak;
        audio.iter_mut().for_each(|s| *s *= gain);
    }
}

impl Synthesizer for PiperVoice {
    fn sample_rate(&self) -> u32 {
        self.config.sample_rate
    }

    fn synthesize(
        &self,
        text: &str,
        on_sentence: &mut dyn FnMut(SpokenSentence) -> ControlFlow<()>,
    ) -> Result<(), TtsError> {
        let mut said_anything = false;
        for (written, spoken) in prepare(text)? {
            let samples = self.render(&spoken)?;
            if samples.is_empty() {
                tracing::debug!("nothing to say in {written:?}; skipped");
                continue;
            }
            said_anything = true;
            if on_sentence(SpokenSentence { text: written, samples }).is_break() {
                return Ok(());
            }
        }
        if said_anything {
            Ok(())
        } else {
            Err(TtsError::NothingToSay)
        }
    }
}

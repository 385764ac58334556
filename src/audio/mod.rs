//! The caller's and the assistant's sound, in the formats a phone line uses.
//!
//! Everything inside Helpline is [`Audio`]: mono `f32` samples in −1..1 at a known rate. This module turns
//! the outside world's formats into that and back: WAV files of any common layout ([`wav`]), raw headerless
//! telephone audio ([`Encoding`]: G.711 mu-law / A-law and linear 16-bit, see [`g711`]), sample-rate
//! conversion ([`resample`]) and 20 ms framing ([`frames`]). It knows nothing about speech.

pub mod frames;
pub mod g711;
pub mod resample;
#[cfg(test)]
pub(crate) mod tones;
pub mod wav;

use std::path::PathBuf;

pub use frames::{frame_len, FRAME_MS};
pub use resample::resample;

/// Mono audio: samples in −1.0..=1.0 at `sample_rate` Hz.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
}

impl Audio {
    pub fn new(samples: Vec<f32>, sample_rate: u32) -> Self {
        Self { samples, sample_rate }
    }

    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate.max(1))
    }

    /// The same sound made louder so its peak reaches `target` (0..1), by at most `max_gain_db`; never
    /// quieter. Voice detection is level-sensitive (a caller recorded at −40 dBFS went unheard), while
    /// a phone line's automatic gain control would have brought them up; the cap keeps line noise from
    /// being boosted into something that looks like speech.
    pub fn with_peak_at(&self, target: f32, max_gain_db: f32) -> Audio {
        let peak = self.samples.iter().filter(|s| s.is_finite()).fold(0.0f32, |m, s| m.max(s.abs()));
        if peak <= 0.0 || peak >= target {
            return self.clone();
        }
        let gain = (target / peak).min(10f32.powf(max_gain_db / 20.0));
        Audio::new(self.samples.iter().map(|s| s * gain).collect(), self.sample_rate)
    }

    /// The sound as a phone line delivers it: resampled to `rate` and through `encoding` and back.
    pub fn through_phone_line(&self, encoding: Encoding, rate: u32) -> Result<Audio, AudioError> {
        let narrow = self.to_rate(rate)?;
        Ok(Audio::new(encoding.decode(&encoding.encode(&narrow.samples))?, rate))
    }

    /// The same sound at another rate (a copy when the rate already matches).
    pub fn to_rate(&self, sample_rate: u32) -> Result<Audio, AudioError> {
        Ok(Audio::new(resample(&self.samples, self.sample_rate, sample_rate)?, sample_rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_audio_is_raised_to_the_target_peak_within_the_gain_cap() {
        let quiet = Audio::new(vec![0.05, -0.02, 0.0], 8000);
        let louder = quiet.with_peak_at(0.9, 30.0);
        assert!((louder.samples[0] - 0.9).abs() < 1e-6);
        let faint = Audio::new(vec![0.001, -0.001], 8000).with_peak_at(0.9, 20.0);
        assert!((faint.samples[0] - 0.01).abs() < 1e-6, "gain must stop at 20 dB");
        let loud = Audio::new(vec![0.95, -0.5], 8000);
        assert_eq!(loud.with_peak_at(0.9, 30.0), loud, "never quieter");
    }
}

/// How raw telephone audio is encoded on the wire or in a headerless file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// G.711 µ-law, one byte a sample (North American and Japanese telephone networks).
    Mulaw,
    /// G.711 A-law, one byte a sample (European and most other telephone networks).
    Alaw,
    /// Signed 16-bit little-endian linear PCM.
    #[value(name = "s16le", alias = "pcm16", alias = "linear16")]
    #[serde(rename = "s16le", alias = "pcm16", alias = "linear16")]
    S16le,
}

impl Encoding {
    pub fn bytes_per_sample(self) -> usize {
        match self {
            Encoding::Mulaw | Encoding::Alaw => 1,
            Encoding::S16le => 2,
        }
    }

    /// Decode raw bytes into samples. Linear PCM must have an even byte count.
    pub fn decode(self, bytes: &[u8]) -> Result<Vec<f32>, AudioError> {
        match self {
            Encoding::Mulaw => Ok(bytes.iter().map(|&b| pcm16_to_f32(g711::mulaw_decode(b))).collect()),
            Encoding::Alaw => Ok(bytes.iter().map(|&b| pcm16_to_f32(g711::alaw_decode(b))).collect()),
            Encoding::S16le => {
                if !bytes.len().is_multiple_of(2) {
                    return Err(AudioError::OddLength { len: bytes.len() });
                }
                Ok(bytes.chunks_exact(2).map(|b| pcm16_to_f32(i16::from_le_bytes([b[0], b[1]]))).collect())
            }
        }
    }

    /// Encode samples into raw bytes (values outside −1..1 are clipped, as a phone line would).
    pub fn encode(self, samples: &[f32]) -> Vec<u8> {
        match self {
            Encoding::Mulaw => samples.iter().map(|&s| g711::mulaw_encode(f32_to_pcm16(s))).collect(),
            Encoding::Alaw => samples.iter().map(|&s| g711::alaw_encode(f32_to_pcm16(s))).collect(),
            Encoding::S16le => samples.iter().flat_map(|&s| f32_to_pcm16(s).to_le_bytes()).collect(),
        }
    }
}

pub fn pcm16_to_f32(s: i16) -> f32 {
    f32::from(s) / 32768.0
}

pub fn f32_to_pcm16(s: f32) -> i16 {
    // NaN becomes silence rather than a full-scale click.
    if s.is_nan() {
        return 0;
    }
    (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

/// Something wrong with audio a user gave us; every message names the input and what to do.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a readable WAV file ({reason}); pass a RIFF/WAVE file, or raw telephone audio with --raw mulaw|alaw|s16le --rate 8000")]
    BadWav { path: PathBuf, reason: String },
    #[error("{path} uses an unsupported WAV sample format ({format}); supported: 8/16/24/32-bit integer PCM and 32-bit float")]
    UnsupportedFormat { path: PathBuf, format: String },
    #[error("{path} holds no audio (zero samples); record or export the call again")]
    Empty { path: PathBuf },
    #[error("linear 16-bit audio must have an even number of bytes, got {len}; check the encoding (mu-law and A-law use one byte a sample)")]
    OddLength { len: usize },
    #[error("unsupported sample rate {rate} Hz: {hint}")]
    BadRate { rate: u32, hint: &'static str },
    #[error("resampling from {from} Hz to {to} Hz failed: {reason}")]
    Resample { from: u32, to: u32, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// Telephone rates and the wideband rates the models use; anything else in a raw file is a mistake.
pub const RAW_RATES: &[u32] = &[8000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000];

/// Read a headerless file of telephone audio.
pub fn read_raw(path: &std::path::Path, encoding: Encoding, sample_rate: u32) -> Result<Audio, AudioError> {
    if !RAW_RATES.contains(&sample_rate) {
        return Err(AudioError::BadRate {
            rate: sample_rate,
            hint: "raw audio must say its real rate with --rate (telephone audio is 8000)",
        });
    }
    let bytes = std::fs::read(path).map_err(|source| AudioError::Io { path: path.into(), source })?;
    if bytes.is_empty() {
        return Err(AudioError::Empty { path: path.into() });
    }
    let samples = encoding.decode(&bytes).map_err(|e| match e {
        AudioError::OddLength { len } => AudioError::BadWav {
            path: path.into(),
            reason: format!("{len} bytes is not a whole number of 16-bit samples"),
        },
        other => other,
    })?;
    Ok(Audio::new(samples, sample_rate))
}

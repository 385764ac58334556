//! Guards against Whisper's known hallucinations on silence, noise and music.
//!
//! Whisper was trained on subtitles, so given no speech it tends to write what subtitles say over
//! silence ("Thank you.", "Thanks for watching!") or to loop ("you you you"). Each guard below is one of
//! the checks OpenAI's reference decoder uses, with its threshold:
//! - energy: audio quieter than [`MIN_RMS`] never reaches the decoder;
//! - no-speech probability above [`NO_SPEECH_PROBABILITY`] together with a mean token log-probability
//!   below [`MIN_AVG_LOGPROB`] means "this segment is not speech" (openai-whisper's rule);
//! - a gzip compression ratio above [`MAX_COMPRESSION_RATIO`] means the text is repetitive;
//! - a phrase repeated three or more times in a row is a decoding loop;
//! - the stock subtitle phrases are dropped unless the decoder was confident they were spoken.

use std::io::Write;

use super::{Segment, Transcript};

/// RMS below this (−50 dBFS) is line noise, not a caller: telephone speech sits around −30 to −15 dBFS.
pub const MIN_RMS: f32 = 0.003;
/// openai-whisper's defaults for the no-speech and log-probability rules.
pub const NO_SPEECH_PROBABILITY: f32 = 0.6;
pub const MIN_AVG_LOGPROB: f32 = -1.0;
/// openai-whisper's compression-ratio threshold (whisper.cpp's `entropy_thold` is its token-level twin).
pub const MAX_COMPRESSION_RATIO: f32 = 2.4;
pub const MAX_ENTROPY: f32 = 2.4;

/// What Whisper writes over silence and noise, learned from subtitles (lower case, no punctuation).
const SUBTITLE_PHRASES: &[&str] = &[
    "thank you",
    "thanks for watching",
    "thank you for watching",
    "thank you so much for watching",
    "please subscribe",
    "subscribe to my channel",
    "you",
    "bye",
    "so",
    "music",
    "applause",
    "silence",
];

/// One decoded segment with the statistics the guards need.
#[derive(Debug, Clone)]
pub struct DecodedSegment {
    pub segment: Segment,
    pub no_speech_probability: f32,
    pub token_logprobs: Vec<f32>,
}

impl DecodedSegment {
    fn avg_logprob(&self) -> f32 {
        if self.token_logprobs.is_empty() {
            return f32::NEG_INFINITY;
        }
        self.token_logprobs.iter().sum::<f32>() / self.token_logprobs.len() as f32
    }
}

#[derive(Debug, Clone, Default)]
pub struct Decoded {
    pub segments: Vec<DecodedSegment>,
}

pub fn is_too_quiet(samples: &[f32]) -> bool {
    if samples.is_empty() {
        return true;
    }
    let energy = samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32;
    !energy.is_finite() || energy.sqrt() < MIN_RMS
}

/// Keep the segments that pass every guard and build the transcript from them.
pub fn reject_hallucinations(decoded: Decoded) -> Transcript {
    let kept: Vec<DecodedSegment> = decoded.segments.into_iter().filter(is_believable).collect();
    let logprobs: Vec<f32> = kept.iter().flat_map(|s| s.token_logprobs.iter().copied()).collect();
    let text = kept.iter().map(|s| s.segment.text.as_str()).collect::<Vec<_>>().join(" ").trim().to_string();
    if text.is_empty() || logprobs.is_empty() {
        return Transcript::default();
    }
    let confidence = (logprobs.iter().sum::<f32>() / logprobs.len() as f32).exp();
    Transcript { text, confidence, segments: kept.into_iter().map(|s| s.segment).collect() }
}

fn is_believable(segment: &DecodedSegment) -> bool {
    let words = normalized_words(&segment.segment.text);
    if words.is_empty() {
        return false;
    }
    let avg_logprob = segment.avg_logprob();
    if segment.no_speech_probability > NO_SPEECH_PROBABILITY && avg_logprob < MIN_AVG_LOGPROB {
        return false;
    }
    if compression_ratio(&segment.segment.text) > MAX_COMPRESSION_RATIO || is_loop(&words) {
        return false;
    }
    let phrase = words.join(" ");
    if SUBTITLE_PHRASES.contains(&phrase.as_str()) {
        // A caller may well say "thank you": keep it only when it was clearly heard.
        let confident = avg_logprob.exp() >= 0.6 && segment.no_speech_probability < 0.3;
        return confident;
    }
    true
}

fn normalized_words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| w.chars().filter(|c| c.is_alphanumeric() || *c == '\'').collect::<String>().to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// gzip-style compression ratio of the text: high for repetitive text (openai-whisper's check).
pub fn compression_ratio(text: &str) -> f32 {
    let bytes = text.as_bytes();
    if bytes.len() < 24 {
        // Compression overhead dominates tiny strings; they cannot be judged this way.
        return 1.0;
    }
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    if encoder.write_all(bytes).is_err() {
        return 1.0;
    }
    match encoder.finish() {
        Ok(compressed) if !compressed.is_empty() => bytes.len() as f32 / compressed.len() as f32,
        _ => 1.0,
    }
}

/// A phrase of one to four words repeated at least three times back to back, making up most of the
/// text: "you you you", "5 5 5 5", "I'm sorry I'm sorry I'm sorry".
fn is_loop(words: &[String]) -> bool {
    (1..=4).any(|len| {
        // Try every alignment, so a loop that starts mid-text is found too.
        let best_run = (0..len)
            .map(|offset| {
                let units: Vec<&[String]> = words[offset.min(words.len())..].chunks_exact(len).collect();
                let mut best = 1;
                let mut run = 1;
                for pair in units.windows(2) {
                    run = if pair[0] == pair[1] { run + 1 } else { 1 };
                    best = best.max(run);
                }
                best
            })
            .max()
            .unwrap_or(1);
        // Digit strings legitimately repeat ("one one one two"), so a loop must dominate the utterance,
        // and a single repeated word needs four in a row unless it is nearly all that was said.
        best_run >= 3 && best_run * len * 2 > words.len() && (best_run >= 4 || len > 1 || words.len() <= 4)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(text: &str, no_speech: f32, p: f32) -> DecodedSegment {
        DecodedSegment {
            segment: Segment { start_s: 0.0, end_s: 1.0, text: text.into() },
            no_speech_probability: no_speech,
            token_logprobs: vec![p.ln(); 4],
        }
    }

    fn keeps(text: &str, no_speech: f32, p: f32) -> bool {
        !reject_hallucinations(Decoded { segments: vec![segment(text, no_speech, p)] }).text.is_empty()
    }

    #[test]
    fn loops_and_repetition_are_rejected() {
        assert!(!keeps("you you you you", 0.1, 0.9));
        assert!(!keeps("5 5 5 5 5 5", 0.1, 0.9));
        assert!(!keeps("I'm sorry. I'm sorry. I'm sorry. I'm sorry.", 0.1, 0.9));
        assert!(compression_ratio(&"the same words again ".repeat(10)) > MAX_COMPRESSION_RATIO);
    }

    #[test]
    fn real_utterances_with_repeated_digits_are_kept() {
        assert!(keeps("My account number is one one one two three four.", 0.05, 0.8));
        assert!(keeps("double two, four, four, four, seven", 0.05, 0.8));
        assert!(keeps("no no no that's not what I said", 0.05, 0.8));
    }

    #[test]
    fn subtitle_phrases_need_confidence() {
        assert!(!keeps("Thank you.", 0.5, 0.5));
        assert!(!keeps("Thanks for watching!", 0.2, 0.4));
        assert!(keeps("Thank you.", 0.05, 0.9));
    }

    #[test]
    fn no_speech_with_low_log_probability_is_rejected() {
        assert!(!keeps("I want to check my balance", 0.8, 0.2));
        assert!(keeps("I want to check my balance", 0.8, 0.9));
    }

    #[test]
    fn silence_and_non_finite_audio_count_as_too_quiet() {
        assert!(is_too_quiet(&[0.0; 1600]));
        assert!(is_too_quiet(&[]));
        assert!(is_too_quiet(&[f32::NAN; 10]));
        assert!(!is_too_quiet(&[0.1, -0.1, 0.1, -0.1]));
    }
}

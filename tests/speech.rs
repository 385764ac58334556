//! End-to-end speech tests with the real models: Whisper tiny.en, Silero VAD and the Piper voice.
//! Models load once and are shared by every test in this file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use helpline::asr::recording::{recording_vad_config, transcribe_recording};
use helpline::asr::{Recognizer, WhisperConfig, WhisperRecognizer};
use helpline::audio::{self, Audio, Encoding};
use helpline::eval::{committed_corpus, word_errors, WordErrors};
use helpline::models::ModelDir;
use helpline::tts::{PiperVoice, Synthesizer};
use helpline::vad::SileroModel;

struct Models {
    recognizer: WhisperRecognizer,
    vad: Arc<SileroModel>,
    voice: PiperVoice,
}

fn models() -> &'static Models {
    static MODELS: OnceLock<Models> = OnceLock::new();
    MODELS.get_or_init(|| {
        let dir = ModelDir::locate(None).expect("models directory (run scripts/setup.sh)");
        // One thread a recognition: tests run in parallel on two cores.
        let config = WhisperConfig { threads: 1, ..Default::default() };
        Models {
            recognizer: WhisperRecognizer::load(&dir, "tiny.en", config).expect("Whisper tiny.en"),
            vad: Arc::new(SileroModel::load(&dir, 1).expect("Silero VAD")),
            voice: PiperVoice::load(&dir, 1).expect("Piper voice"),
        }
    })
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn transcribe(audio: &Audio) -> String {
    let m = models();
    transcribe_recording(&m.recognizer, &m.vad, &recording_vad_config(), audio)
        .expect("transcribe")
        .text
}

/// Corpus WER over the clips after `channel` has been applied to each one.
fn corpus_wer(channel: impl Fn(Audio) -> Audio) -> (f64, Vec<String>) {
    let mut total = WordErrors::default();
    let mut report = Vec::new();
    for clip in committed_corpus().expect("committed corpus") {
        let audio = channel(audio::wav::read(&clip.file).expect("clip"));
        let heard = transcribe(&audio);
        let errors = word_errors(&clip.text, &heard);
        if errors.errors() > 0 {
            report.push(format!("{}: said {:?}, heard {:?}", clip.file.display(), clip.text, heard));
        }
        total += errors;
    }
    (total.rate(), report)
}

/// What a phone line does to audio: 8 kHz, G.711 µ-law.
fn through_mulaw_phone_line(audio: Audio) -> Audio {
    audio.through_phone_line(Encoding::Mulaw, 8000).expect("phone line")
}

#[test]
fn committed_clips_transcribe_within_8_percent_wer_at_16khz() {
    let (wer, report) = corpus_wer(|a| a.to_rate(16_000).expect("resample"));
    eprintln!("WER at 16 kHz: {:.1} %\n{}", wer * 100.0, report.join("\n"));
    assert!(wer <= 0.08, "WER {:.1} % over the committed clips exceeds 8 %", wer * 100.0);
}

#[test]
fn committed_clips_transcribe_within_10_percent_wer_through_8khz_mulaw() {
    let (wer, report) = corpus_wer(through_mulaw_phone_line);
    eprintln!("WER through 8 kHz mu-law: {:.1} %\n{}", wer * 100.0, report.join("\n"));
    assert!(wer <= 0.10, "WER {:.1} % through 8 kHz mu-law exceeds 10 %", wer * 100.0);
}

const SUPPORT_LINE_SENTENCES: &[&str] = &[
    "Thank you for calling Acme Bank.",
    "Your current balance is $1,250.42.",
    "Your account number ends in 4 5 6 7.",
    "The payment of $89.99 is due on March 3rd.",
    "I have blocked the card ending in 9 0 2 1.",
    "Your new card will arrive within 5 business days.",
    "Please hold while I transfer you to an agent.",
    "Our branch on Main Street opens at 9 am.",
    "Is there anything else I can help you with today?",
    "Your ticket number is 7 3 8 2.",
    "Doctor Smith's appointment is on Tuesday.",
    "The transfer of $500 was completed yesterday.",
    "Would you like to dispute this charge?",
    "I can send the statement to your email address.",
    "Your credit limit is $3,000.",
    "Please say or enter your date of birth.",
    "We received your payment on January 15th.",
    "Mister Johnson, your address has been updated.",
    "The minimum payment is $25.",
    "Goodbye, and have a nice day.",
];

#[test]
fn spoken_replies_survive_a_mulaw_phone_line_within_5_percent_wer() {
    let m = models();
    // The line tells the recogniser its own name, as a deployed line would: "Acme" is no word Whisper
    // knows, and without the hint it is heard as "NetMe" or "at me".
    let line = m
        .recognizer
        .with_config(WhisperConfig { threads: 1, prompt: "Acme Bank".into(), ..Default::default() });
    let mut total = WordErrors::default();
    let mut report = Vec::new();
    for sentence in SUPPORT_LINE_SENTENCES {
        let samples = m.voice.synthesize_all(sentence).expect("synthesize");
        let spoken = through_mulaw_phone_line(Audio::new(samples, m.voice.sample_rate()));
        let heard = transcribe_recording(&line, &m.vad, &recording_vad_config(), &spoken).expect("transcribe").text;
        let errors = word_errors(sentence, &heard);
        if errors.errors() > 0 {
            report.push(format!("said {sentence:?}, heard {heard:?}"));
        }
        total += errors;
    }
    eprintln!("round-trip WER: {:.1} %\n{}", total.rate() * 100.0, report.join("\n"));
    assert!(total.rate() <= 0.05, "round-trip WER {:.1} % exceeds 5 %", total.rate() * 100.0);
}

fn tone(freqs: &[f32], seconds: f32, rate: u32) -> Vec<f32> {
    (0..(seconds * rate as f32) as usize)
        .map(|i| {
            let t = i as f32 / rate as f32;
            // A chord whose notes change every half second: the "hold music" a line plays.
            let step = (t * 2.0) as usize;
            freqs
                .iter()
                .map(|f| (2.0 * std::f32::consts::PI * f * (1.0 + step as f32 * 0.125) * t).sin())
                .sum::<f32>()
                * 0.2
                / freqs.len() as f32
        })
        .collect()
}

fn white_noise(seconds: f32, amplitude: f32) -> Vec<f32> {
    // A fixed-seed linear congruential generator keeps the test reproducible.
    let mut state = 0x2545_f491_u32;
    (0..(seconds * 16_000.0) as usize)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 * 2.0 * amplitude - amplitude
        })
        .collect()
}

#[test]
fn silence_tones_and_noise_transcribe_to_nothing() {
    let m = models();
    let inputs = [
        ("silence", vec![0.0f32; 16_000 * 3]),
        ("hold music", tone(&[261.6, 329.6, 392.0], 4.0, 16_000)),
        ("dial tone", tone(&[350.0, 440.0], 3.0, 16_000)),
        ("white noise", white_noise(3.0, 0.1)),
        ("faint hiss", white_noise(3.0, 0.005)),
    ];
    for (name, samples) in inputs {
        let audio = Audio::new(samples.clone(), 16_000);
        let through_vad = transcribe(&audio);
        assert_eq!(through_vad, "", "{name} through the whole pipeline became {through_vad:?}");
        // Even without voice detection in front, the recogniser's own guards hold.
        let direct = m.recognizer.recognize(&samples).expect("recognize");
        assert_eq!(direct.text, "", "{name} straight into the recogniser became {:?}", direct.text);
    }
}

#[test]
fn a_transcript_has_confidence_and_timed_segments() {
    let audio = audio::wav::read(&repo("audio-samples/clips/jfk.wav")).expect("jfk");
    let m = models();
    let t = transcribe_recording(&m.recognizer, &m.vad, &recording_vad_config(), &audio).expect("transcribe");
    assert!(t.confidence > 0.5 && t.confidence <= 1.0, "confidence {}", t.confidence);
    assert!(!t.segments.is_empty());
    for pair in t.segments.windows(2) {
        assert!(pair[0].start_s <= pair[1].start_s, "segments out of order");
    }
    let last = t.segments.last().expect("segment");
    assert!(
        last.end_s <= t.duration_s + 0.01 && last.end_s > t.duration_s * 0.6,
        "last segment ends at {}",
        last.end_s
    );
}

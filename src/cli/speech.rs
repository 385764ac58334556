//! `helpline transcribe | say | demo`: speech in and out from files.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;

use helpline::asr::recording::{recording_vad_config, transcribe_recording, transcribe_whole};
use helpline::asr::{AudioContext, WhisperConfig, WhisperRecognizer};
use helpline::audio::{self, Audio, Encoding};
use helpline::models::ModelDir;
use helpline::tts::{PiperVoice, Synthesizer};
use helpline::vad::SileroModel;

#[derive(Args)]
pub struct TranscribeArgs {
    /// Audio files to transcribe.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print one JSON object per file.
    #[arg(long)]
    json: bool,
    /// Treat the files as headerless audio in this encoding.
    #[arg(long, value_enum)]
    raw: Option<Encoding>,
    /// Sample rate of raw audio.
    #[arg(long, requires = "raw")]
    rate: Option<u32>,
    /// Whisper model.
    #[arg(long, default_value = "tiny.en", value_parser = ["tiny.en", "base"])]
    model: String,
    /// Threads for one recognition.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Words and names callers use that Whisper may not know (e.g. the line's brand: "Acme Bank").
    #[arg(long, default_value = "")]
    vocabulary: String,
    /// Recognise the whole file in one pass (at most 30 s) instead of cutting it into utterances by
    /// voice detection: for comparing what the detector cuts away.
    #[arg(long)]
    no_vad: bool,
}

#[derive(Args)]
pub struct SayArgs {
    /// What to say.
    text: String,
    /// Output WAV file.
    #[arg(short, long)]
    output: PathBuf,
    /// Sample encoding of the WAV.
    #[arg(long, value_enum, default_value = "pcm16")]
    format: Encoding,
    /// Output sample rate.
    #[arg(long, default_value_t = 22_050, value_parser = parse_output_rate)]
    rate: u32,
    /// Threads for synthesis.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn parse_output_rate(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(rate @ (8000 | 16_000 | 22_050)) => Ok(rate),
        _ => Err(format!("{s} is not an output rate Helpline writes; use 8000 (telephone), 16000 or 22050")),
    }
}

pub fn transcribe(models: &ModelDir, args: TranscribeArgs) -> Result<()> {
    let config = WhisperConfig { threads: args.threads, audio_context: AudioContext::Full, prompt: args.vocabulary };
    let recognizer = WhisperRecognizer::load(models, &args.model, config)?;
    let vad = Arc::new(SileroModel::load(models, 1)?);
    let mut failures = 0;
    for file in &args.files {
        let started = Instant::now();
        let result = read_input(file, args.raw, args.rate).and_then(|audio| {
            Ok(if args.no_vad {
                transcribe_whole(&recognizer, &audio)?
            } else {
                transcribe_recording(&recognizer, &vad, &recording_vad_config(), &audio)?
            })
        });
        match result {
            Ok(transcript) => {
                let processing_s = started.elapsed().as_secs_f64();
                if args.json {
                    let line = serde_json::json!({
                        "file": file,
                        "text": transcript.text,
                        "confidence": transcript.confidence,
                        "duration_s": transcript.duration_s,
                        "processing_s": processing_s,
                        "segments": transcript.segments,
                    });
                    println!("{line}");
                } else if args.files.len() > 1 {
                    println!("{}: {}", file.display(), transcript.text);
                } else {
                    println!("{}", transcript.text);
                }
            }
            Err(error) => {
                failures += 1;
                if args.json {
                    println!("{}", serde_json::json!({ "file": file, "error": format!("{error:#}") }));
                }
                eprintln!("error: {}: {error:#}", file.display());
            }
        }
    }
    if failures > 0 {
        bail!("{failures} of {} files could not be transcribed", args.files.len());
    }
    Ok(())
}

fn read_input(path: &Path, raw: Option<Encoding>, rate: Option<u32>) -> Result<Audio> {
    Ok(match raw {
        Some(encoding) => {
            let rate = rate.context("raw audio needs its sample rate: add --rate 8000 (or the file's real rate)")?;
            audio::read_raw(path, encoding, rate)?
        }
        None => audio::wav::read(path)?,
    })
}

pub fn say(models: &ModelDir, args: SayArgs) -> Result<()> {
    let voice = PiperVoice::load(models, args.threads)?;
    let samples = voice.synthesize_all(&args.text)?;
    let spoken = Audio::new(samples, voice.sample_rate()).to_rate(args.rate)?;
    audio::wav::write(&args.output, &spoken, args.format)?;
    eprintln!("wrote {} ({:.1} s, {:?} at {} Hz)", args.output.display(), spoken.duration_s(), args.format, args.rate);
    Ok(())
}

/// The main job until the phone line exists: a caller's recording in, a spoken reply out.
pub fn demo(models: &ModelDir, output: &Path) -> Result<()> {
    let caller = Path::new(env!("CARGO_MANIFEST_DIR")).join("audio-samples/caller-stolen-card-8k.wav");
    let started = Instant::now();
    let recognizer = WhisperRecognizer::load(models, "tiny.en", WhisperConfig::default())?;
    let vad = Arc::new(SileroModel::load(models, 1)?);
    let voice = PiperVoice::load(models, 1)?;
    println!("models loaded in {:.2} s", started.elapsed().as_secs_f64());
    let audio = audio::wav::read(&caller)?;
    let heard = Instant::now();
    let transcript = transcribe_recording(&recognizer, &vad, &recording_vad_config(), &audio)?;
    println!(
        "caller ({:.1} s of 8 kHz audio, recognised in {:.2} s, confidence {:.2}): {}",
        audio.duration_s(),
        heard.elapsed().as_secs_f64(),
        transcript.confidence,
        transcript.text
    );
    let reply = if transcript.text.is_empty() {
        "Sorry, I didn't catch that. Could you say it again?".to_string()
    } else {
        format!("I heard: {}. Let me connect you with someone who can help.", transcript.text.trim_end_matches('.'))
    };
    let spoken_at = Instant::now();
    let mut first_sentence_s = None;
    let mut reply_audio = Vec::new();
    voice.synthesize(&reply, &mut |sentence| {
        first_sentence_s.get_or_insert(spoken_at.elapsed().as_secs_f64());
        reply_audio.extend(sentence.samples);
        std::ops::ControlFlow::Continue(())
    })?;
    let phone = Audio::new(reply_audio, voice.sample_rate()).to_rate(8000)?;
    audio::wav::write(output, &phone, Encoding::Mulaw)?;
    println!(
        "assistant (first sentence after {:.2} s): {reply}\nwrote {} ({:.1} s, 8 kHz mu-law)",
        first_sentence_s.unwrap_or_default(),
        output.display(),
        phone.duration_s()
    );
    Ok(())
}

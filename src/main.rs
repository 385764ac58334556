//! The `helpline` command line: the only place that knows about arguments, exit codes and printing.

mod cli;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use helpline::asr::recording::{recording_vad_config, transcribe_recording, transcribe_whole};
use helpline::asr::{AudioContext, WhisperConfig, WhisperRecognizer};
use helpline::audio::{self, Audio, Encoding};
use helpline::models::{self, fetch, ModelDir};
use helpline::tts::{PiperVoice, Synthesizer};
use helpline::vad::SileroModel;

#[derive(Parser)]
#[command(name = "helpline", version, about = "On-device voice assistant for phone customer support")]
struct Cli {
    /// Models directory (default: $HELPLINE_MODELS, ./models, or the repository's models/).
    #[arg(long, global = true)]
    models: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Transcribe recordings: WAV of any rate, depth and channel count, or raw telephone audio.
    Transcribe(TranscribeArgs),
    /// Speak text with the Piper voice into a WAV file, ready for a phone line.
    Say(SayArgs),
    /// Show, fetch or verify the models.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
    /// Train, try and measure the understanding of callers (intents, entities, sentiment).
    Nlu {
        #[command(subcommand)]
        command: cli::nlu::NluCommand,
    },
    /// Run a benchmark and write its rows into BENCHMARKS.md.
    Bench {
        #[command(subcommand)]
        suite: BenchSuite,
    },
    /// The demo: transcribe a committed caller recording and speak a reply to it.
    Demo {
        /// Where to write the spoken reply.
        #[arg(short, long, default_value = "demo-reply.wav")]
        output: PathBuf,
    },
}

#[derive(Args)]
struct TranscribeArgs {
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
struct SayArgs {
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

#[derive(Subcommand)]
enum ModelsAction {
    /// What each model is and whether it is installed.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Fetch, verify and convert models (the default set, or those named).
    Fetch {
        /// Models to fetch (e.g. `base`); default: every model marked default in the manifest.
        names: Vec<String>,
        /// Download and convert again even if the files are in place.
        #[arg(long)]
        force: bool,
    },
    /// Verify installed files against their checksums; non-zero exit if any is missing or corrupt.
    Check { names: Vec<String> },
}

#[derive(Subcommand, Clone)]
enum BenchSuite {
    /// Intent accuracy, out-of-scope, calibration, training time and parse latency on the public sets.
    Nlu {
        /// The shared evaluation data folder (Banking77, CLINC150).
        #[arg(long, default_value = "../shared/data/nlu")]
        data: PathBuf,
    },
    /// Recognition and synthesis speed, accuracy and memory.
    Speech {
        /// Timed runs per measurement (after one warm-up).
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Models { action } => models_command(cli.models.as_deref(), action),
        command => {
            let models = ModelDir::locate(cli.models.as_deref())?;
            match command {
                Command::Transcribe(args) => transcribe(&models, args),
                Command::Say(args) => say(&models, args),
                Command::Bench { suite: BenchSuite::Speech { runs } } => {
                    helpline::bench::speech(&models, runs, Path::new("BENCHMARKS.md"))
                }
                Command::Bench { suite: BenchSuite::Nlu { data } } => {
                    helpline::bench::nlu(&models, &data, Path::new("BENCHMARKS.md"))
                }
                Command::Demo { output } => demo(&models, &output),
                Command::Nlu { command } => cli::nlu::run(&models, command),
                Command::Models { .. } => unreachable!("handled above"),
            }
        }
    }
}

fn transcribe(models: &ModelDir, args: TranscribeArgs) -> Result<()> {
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

fn say(models: &ModelDir, args: SayArgs) -> Result<()> {
    let voice = PiperVoice::load(models, args.threads)?;
    let samples = voice.synthesize_all(&args.text)?;
    let spoken = Audio::new(samples, voice.sample_rate()).to_rate(args.rate)?;
    audio::wav::write(&args.output, &spoken, args.format)?;
    eprintln!("wrote {} ({:.1} s, {:?} at {} Hz)", args.output.display(), spoken.duration_s(), args.format, args.rate);
    Ok(())
}

fn models_command(dir: Option<&Path>, action: ModelsAction) -> Result<()> {
    let models = match dir {
        Some(path) => ModelDir::at(path),
        None => ModelDir::locate(None)?,
    };
    let manifest = fetch::Manifest::load(&models)?;
    match action {
        ModelsAction::List { json } => {
            for entry in &manifest.models {
                let reports = fetch::check(&models, &[entry])?;
                let installed = reports.iter().all(|r| r.state == fetch::FileState::Ok);
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"name": entry.name, "what": entry.what, "default": entry.default,
                            "installed": installed, "files": reports})
                    );
                } else {
                    let state = if installed { "installed" } else { "not installed" };
                    let default = if entry.default { "" } else { " (optional)" };
                    println!("{:<12} {:<14} {}{}", entry.name, state, entry.what, default);
                }
            }
        }
        ModelsAction::Fetch { names, force } => {
            let entries = manifest.select(&names)?;
            let started = Instant::now();
            let done = fetch::fetch(&models, &entries, force)?;
            for line in &done {
                println!("{line}");
            }
            if done.is_empty() {
                println!("all models already in place and verified ({:.1} s)", started.elapsed().as_secs_f64());
            } else {
                println!("done in {:.1} s", started.elapsed().as_secs_f64());
            }
        }
        ModelsAction::Check { names } => {
            let entries = manifest.select(&names)?;
            let reports = fetch::check(&models, &entries)?;
            let bad: Vec<_> = reports.iter().filter(|r| r.state != fetch::FileState::Ok).collect();
            for report in &reports {
                println!(
                    "{:<10} {:<12} {}",
                    format!("{:?}", report.state).to_lowercase(),
                    report.model,
                    report.path.display()
                );
            }
            if !bad.is_empty() {
                bail!("{} model file(s) missing or corrupt: run `helpline models fetch --force`", bad.len());
            }
            models::init_onnx_runtime(&models)?;
            println!("ONNX Runtime loads from {}", models.onnx_runtime().display());
        }
    }
    Ok(())
}

/// The main job until the phone line exists: a caller's recording in, a spoken reply out.
fn demo(models: &ModelDir, output: &Path) -> Result<()> {
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

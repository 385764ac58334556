//! Benchmarks that write their tables into `BENCHMARKS.md`: a benchmark is a feature, run from the CLI.
//!
//! Every figure is a median of several timed runs after a warm-up (these machines are noisy), and the
//! table records the machine and the commit it was measured on. Each suite owns one section of the
//! file, between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`, and rewrites only that section.

pub mod calls;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::asr::recording::{recording_vad_config, transcribe_recording};
use crate::asr::{AudioContext, Recognizer, WhisperConfig, WhisperRecognizer};
use crate::audio::{self, Audio, Encoding};
use crate::eval::{committed_corpus, load_clips, word_errors, WordErrors};
use crate::models::ModelDir;
use crate::tts::{PiperVoice, Synthesizer};
use crate::vad::SileroModel;

/// Median of a set of measurements (the upper middle for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NAN, f64::max)
}

/// Time `f` `runs` times after one warm-up run; seconds per run.
fn timed(runs: usize, mut f: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
    f()?;
    (0..runs.max(1))
        .map(|_| {
            let start = Instant::now();
            f()?;
            Ok(start.elapsed().as_secs_f64())
        })
        .collect()
}

/// Peak resident memory of this process so far, in MiB (Linux `VmHWM`).
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// "model name, N cores" of this machine, and the commit of the working tree.
pub fn provenance() -> (String, String) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "uncommitted".into());
    let dirty = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    (format!("{cpu}, {cores} cores"), if dirty { format!("{commit} (+ local changes)") } else { commit })
}

/// Replace (or append) the section `name` of the benchmarks file with `body`.
pub fn write_section(file: &Path, name: &str, body: &str) -> Result<()> {
    let (open, close) = (format!("<!-- bench:{name} -->"), format!("<!-- /bench:{name} -->"));
    let existing = std::fs::read_to_string(file).unwrap_or_else(|_| "# Benchmarks\n".into());
    let section = format!("{open}\n{body}\n{close}");
    let updated = match (existing.find(&open), existing.find(&close)) {
        (Some(start), Some(end)) if end > start => {
            format!("{}{}{}", &existing[..start], section, &existing[end + close.len()..])
        }
        _ => format!("{}\n{}\n", existing.trim_end(), section),
    };
    std::fs::write(file, updated).with_context(|| format!("writing {}", file.display()))
}

struct Clip {
    audio: Audio,
    text: String,
}

fn committed_clips() -> Result<Vec<Clip>> {
    committed_corpus()
        .map_err(anyhow::Error::msg)?
        .into_iter()
        .map(|clip| Ok(Clip { audio: audio::wav::read(&clip.file)?, text: clip.text }))
        .collect()
}

/// `helpline bench speech`: recognition and synthesis speed, accuracy and memory.
pub fn speech(models: &ModelDir, runs: usize, out: &Path) -> Result<()> {
    let (machine, commit) = provenance();
    let mut rows: Vec<String> = Vec::new();
    let mut row = |what: &str, value: String, note: &str| {
        eprintln!("{what}: {value} {note}");
        rows.push(format!("| {what} | {value} | {note} |"));
    };

    let load = Instant::now();
    let recognizer = WhisperRecognizer::load(models, "tiny.en", WhisperConfig::default())?;
    row("Whisper tiny.en load", format!("{:.2} s", load.elapsed().as_secs_f64()), "ggml f16, converted by set-up");
    let vad = Arc::new(SileroModel::load(models, 1)?);
    let clips = committed_clips()?;

    // A 3 s utterance, as a caller's turn: the first committed clip of about that length.
    let utterance = clips
        .iter()
        .map(|c| c.audio.to_rate(16_000))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .min_by_key(|a| ((a.duration_s() - 3.0).abs() * 1000.0) as i64)
        .context("no clips")?;
    for (threads, context, label) in [
        (1, AudioContext::Full, "full 30 s window"),
        (2, AudioContext::Full, "full 30 s window"),
        (1, AudioContext::Fit { floor: 500 }, "window fit to clip, floor 10 s"),
        (2, AudioContext::Fit { floor: 500 }, "window fit to clip, floor 10 s"),
        (2, AudioContext::Fit { floor: 250 }, "window fit to clip, floor 5 s"),
    ] {
        let r = recognizer.with_config(WhisperConfig { threads, audio_context: context, ..Default::default() });
        let times = timed(runs, || Ok(r.recognize(&utterance.samples).map(|_| ())?))?;
        row(
            &format!("Recognise a {:.1} s utterance, {threads} thread(s), {label}", utterance.duration_s()),
            format!("{:.0} ms median", median(&times) * 1000.0),
            &format!("max {:.0} ms over {} runs", max(&times) * 1000.0, times.len()),
        );
    }

    // Accuracy and speed over every committed clip, for each window setting.
    for (context, label) in [
        (AudioContext::Full, "full window"),
        (AudioContext::Fit { floor: 500 }, "fit, floor 10 s"),
        (AudioContext::Fit { floor: 250 }, "fit, floor 5 s"),
    ] {
        let r = recognizer.with_config(WhisperConfig { threads: 2, audio_context: context, ..Default::default() });
        let (mut wide, mut narrow) = (WordErrors::default(), WordErrors::default());
        let mut rtfs = Vec::new();
        for clip in &clips {
            let started = Instant::now();
            let heard = transcribe_recording(&r, &vad, &recording_vad_config(), &clip.audio)?;
            rtfs.push(started.elapsed().as_secs_f64() / clip.audio.duration_s());
            wide += word_errors(&clip.text, &heard.text);
            let phone = transcribe_recording(
                &r,
                &vad,
                &recording_vad_config(),
                &clip.audio.through_phone_line(Encoding::Mulaw, 8000)?,
            )?;
            narrow += word_errors(&clip.text, &phone.text);
        }
        row(
            &format!("WER over {} committed clips, {label}", clips.len()),
            format!("{:.1} % (16 kHz) / {:.1} % (8 kHz mu-law)", wide.rate() * 100.0, narrow.rate() * 100.0),
            &format!("{} reference words", wide.reference_words),
        );
        row(
            &format!("RTF over the clips, 2 threads, {label}"),
            format!("{:.3} median", median(&rtfs)),
            "VAD + recognition per clip",
        );
    }

    // Isolated single digits: a known weakness of Whisper without context, measured so it is not hidden.
    let isolated =
        load_clips(&Path::new(env!("CARGO_MANIFEST_DIR")).join("audio-samples/digits-isolated/manifest.jsonl"))
            .map_err(anyhow::Error::msg)?;
    let mut right = 0;
    for clip in &isolated {
        let heard = transcribe_recording(&recognizer, &vad, &recording_vad_config(), &audio::wav::read(&clip.file)?)?;
        right += usize::from(word_errors(&clip.text, &heard.text).errors() == 0);
    }
    row(
        "Isolated spoken digits (FSDD, 8 kHz, one word per clip)",
        format!("{right} of {} right", isolated.len()),
        "digit strings are in the WER rows; single words lack context",
    );

    // Two recognitions at once, one thread each: the 2-thread stall seen in trials must not recur.
    let single = recognizer.with_config(WhisperConfig { threads: 1, ..Default::default() });
    let mut concurrent = Vec::new();
    single.recognize(&utterance.samples)?;
    for _ in 0..runs.max(1) {
        let latencies: Vec<f64> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        let start = Instant::now();
                        single.recognize(&utterance.samples).map(|_| start.elapsed().as_secs_f64())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().map_err(|_| anyhow::anyhow!("recognition thread panicked"))?.map_err(Into::into))
                .collect::<Result<Vec<f64>>>()
        })?;
        concurrent.extend(latencies);
    }
    row(
        "Two recognitions at once, 1 thread each",
        format!("{:.0} ms median", median(&concurrent) * 1000.0),
        &format!("max {:.0} ms over {} recognitions", max(&concurrent) * 1000.0, concurrent.len()),
    );

    // Synthesis: time to the first audio of a reply, and real-time factor, on one and two threads.
    let reply = "Thank you for calling Acme Bank, how can I help you today?";
    let paragraph = "Your balance is $1,250.42. Your next payment of $89.99 is due on March 3rd. \
                     Is there anything else I can help you with today?";
    for threads in [1, 2] {
        let load = Instant::now();
        let voice = PiperVoice::load(models, threads)?;
        row(
            &format!("Piper voice load, {threads} thread(s)"),
            format!("{:.2} s", load.elapsed().as_secs_f64()),
            "en_US-joe-medium",
        );
        let first = timed(runs, || {
            voice.synthesize(reply, &mut |_| std::ops::ControlFlow::Break(()))?;
            Ok(())
        })?;
        row(
            &format!("Synthesis, time to first audio of a one-sentence reply, {threads} thread(s)"),
            format!("{:.0} ms median", median(&first) * 1000.0),
            &format!("max {:.0} ms; the first clause is synthesised alone", max(&first) * 1000.0),
        );
        let mut rtf = Vec::new();
        timed(runs, || {
            let started = Instant::now();
            let samples = voice.synthesize_all(paragraph)?;
            rtf.push(started.elapsed().as_secs_f64() / (samples.len() as f64 / f64::from(voice.sample_rate())));
            Ok(())
        })?;
        rtf.remove(0); // the warm-up run
        row(
            &format!("Synthesis RTF, {threads} thread(s)"),
            format!("{:.3} median", median(&rtf)),
            "three sentences, 12 s of speech",
        );
    }
    row("Peak RSS of this benchmark", format!("{:.0} MiB", peak_rss_mib()), "tiny.en + Silero + Piper loaded");

    let body = format!(
        "## Speech (`helpline bench speech --runs {runs}`)\n\nMachine: {machine}. Commit: {commit}. \
         Medians of {runs} runs after a warm-up.\n\n| measurement | result | notes |\n|---|---|---|\n{}",
        rows.join("\n")
    );
    write_section(out, "speech", &body)?;
    println!("wrote the speech section of {}", out.display());
    Ok(())
}

/// `helpline bench nlu`: intent accuracy, out-of-scope and calibration on the public benchmarks, with
/// training time, parse latency and model size. `data` is the shared evaluation folder
/// (`../shared/data/nlu`). Every figure is measured on a development split carved from the training
/// files and never used for training or tuning.
pub fn nlu(models: &ModelDir, data: &Path, out: &Path) -> Result<()> {
    use crate::nlu::classifier::TrainConfig;
    use crate::nlu::data::TrainingData;
    use crate::nlu::encoder::SentenceEncoder;
    use crate::nlu::{self, report, Understanding};

    let (machine, commit) = provenance();
    let encoder = Arc::new(SentenceEncoder::load(models)?);
    let load = |name: &str| -> Result<TrainingData> {
        let path = data.join(name);
        Ok(TrainingData::load(&path).with_context(|| format!("reading {}", path.display()))?.0)
    };
    let mut rows = Vec::new();
    let mut measure =
        |name: &str, fit: &TrainingData, validation: Option<&TrainingData>, dev: &TrainingData| -> Result<()> {
            let started = Instant::now();
            let mut quiet = |_: &str, _: usize, _: usize| {};
            let mut classifier = nlu::train(&encoder, fit, validation, &TrainConfig::default(), &mut quiet)?;
            if validation.is_none() {
                // A set with no out-of-scope notion (Banking77) measures classification: nothing is rejected.
                classifier.meta.threshold = 0.0;
            }
            let train_s = started.elapsed().as_secs_f64();
            let dir = std::env::temp_dir().join(format!("helpline-bench-{name}-{}", std::process::id()));
            nlu::save(&classifier, fit, &dir)?;
            let size_kib =
                std::fs::read_dir(&dir)?.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum::<u64>() / 1024;
            let understanding = Understanding::load(Arc::clone(&encoder), &dir)?;
            let predictions = nlu::predict_all(&understanding, dev)?;
            let e = report::evaluate(&predictions);
            let pct = |v: Option<f64>| v.map(|v| format!("{:.1} %", v * 100.0)).unwrap_or_else(|| "—".into());
            let line = format!(
                "| {name} | {} / {} | {:.1} % | {} | {} | {} | {:.3} | {:.0} s | {:.1} / {:.1} ms | {size_kib} KiB |",
                fit.examples.len(),
                dev.examples.len(),
                e.accuracy * 100.0,
                pct(Some(e.in_scope_accuracy)),
                pct(e.oos_recall),
                pct(e.oos_precision),
                e.ece,
                train_s,
                e.p50_ms,
                e.p95_ms,
            );
            eprintln!("{line}");
            rows.push(line);
            let _ = std::fs::remove_dir_all(&dir);
            Ok(())
        };

    // Banking77: 10 % of train, stratified, is the development split; no out-of-scope class.
    let (fit, dev) = load("banking77/train.jsonl")?.split(0.1, 2026);
    measure("Banking77", &fit, None, &dev)?;

    // CLINC150: trained on 90 % of train with no out-of-scope examples; confidence and the threshold
    // are fitted on val + oos_val; reported on the other 10 % of train plus oos_train (never seen).
    let (fit, mut dev) = load("clinc150/train.jsonl")?.split(0.1, 2026);
    let mut validation = load("clinc150/val.jsonl")?;
    validation.examples.extend(load("clinc150/oos_val.jsonl")?.examples);
    dev.examples.extend(load("clinc150/oos_train.jsonl")?.examples);
    measure("CLINC150", &fit, Some(&validation), &dev)?;

    let body = format!(
        "## Understanding (`helpline bench nlu`)\n\nMachine: {machine}. Commit: {commit}. all-MiniLM-L6-v2 \
         sentence vectors (frozen) + a softmax layer trained in Rust; temperature-calibrated; parse latency \
         is one utterance at a time, encoder included.\n\n\
         | data | train / dev | accuracy | in-scope accuracy | OOS recall | OOS precision | ECE | training | parse p50 / p95 | model |\n\
         |---|---|---|---|---|---|---|---|---|---|\n{}",
        rows.join("\n")
    );
    write_section(out, "nlu", &body)?;
    println!("wrote the nlu section of {}", out.display());
    Ok(())
}

/// Dialogue turn latency: caller text in → reply text out, understanding, flow, actions and the
/// SQLite writes all included. Replays the caller turns of the scripted conversations `runs` times.
pub fn dialogue(models: &ModelDir, line_dir: &Path, conversations: &Path, runs: usize, out: &Path) -> Result<()> {
    use crate::dialogue::script::Script;
    use crate::dialogue::{CallerInput, Channel, Engine, Line, SessionStart};
    use crate::nlu::encoder::SentenceEncoder;

    let (machine, commit) = provenance();
    let encoder = Arc::new(SentenceEncoder::load(models)?);
    let line = Arc::new(Line::load(line_dir, encoder.clone(), models)?);
    let mut scripts = Vec::new();
    for entry in std::fs::read_dir(conversations).with_context(|| format!("reading {}", conversations.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "yml") {
            let script = Script::load(&path)?;
            // Webhook conversations measure the test server, not the engine.
            if script.webhooks.is_empty() {
                scripts.push(script);
            }
        }
    }
    let dir = std::env::temp_dir().join(format!("helpline-bench-dialogue-{}", std::process::id()));
    let store = crate::store::SqliteStore::open(&dir.join("helpline.db"))?;
    if let Some(customers) = &line.customers {
        crate::store::seed(&store, customers)?;
    }
    let engine = Engine::new(line.clone(), Arc::new(store));
    let mut turn_ms = Vec::new();
    for run in 0..=runs.max(1) {
        for script in &scripts {
            let sessions: Vec<(Option<String>, &Vec<crate::dialogue::script::ScriptTurn>)> =
                if script.sessions.is_empty() {
                    vec![(script.caller.clone(), &script.turns)]
                } else {
                    script.sessions.iter().map(|s| (s.caller.clone(), &s.turns)).collect()
                };
            for (caller, turns) in sessions {
                let start = SessionStart {
                    session_id: None,
                    channel: Channel::Text,
                    caller,
                    called: None,
                    metadata: Default::default(),
                };
                let (mut session, _) = engine.start(start)?;
                for turn in turns {
                    let input = match (&turn.caller, &turn.keys) {
                        (Some(text), _) => {
                            CallerInput::Utterance { text: text.clone(), asr_confidence: turn.asr_confidence }
                        }
                        (None, Some(keys)) => CallerInput::Digits(keys.clone()),
                        (None, None) if turn.silence => CallerInput::NoInput,
                        _ => continue,
                    };
                    if session.is_finished() {
                        break;
                    }
                    // Every caller turn is new words on a real line: nothing may come from the
                    // encoder's memory of an earlier run's identical turn.
                    encoder.forget_recent();
                    let started = Instant::now();
                    engine.turn(&mut session, input)?;
                    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
                    if run > 0 {
                        // Run 0 warms up (the first encoder call allocates).
                        turn_ms.push(elapsed);
                    }
                }
                if !session.is_finished() {
                    engine.hang_up(&mut session)?;
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let percentile = |values: &[f64], p: f64| {
        let mut sorted = values.to_vec();
        sorted.sort_by(|a, b| a.total_cmp(b));
        sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN)
    };
    let body = format!(
        "## Dialogue turns (`helpline bench dialogue`)\n\n\
         Machine: {machine}; commit {commit}. Caller text in → reply text out through `Engine::turn`: \
         understanding (MiniLM + classifier + entities + sentiment), flow steps, built-in actions and every \
         SQLite write (transcript lines, session state), over the caller turns of the {} scripted conversations \
         without webhooks in `tests/conversations/`, {runs} runs after a warm-up, one thread.\n\n\
         | measure | turns | p50 | p95 | max | target |\n|---|---|---|---|---|---|\n\
         | turn latency (ms) | {} | {:.1} | {:.1} | {:.1} | p50/p95 ≤ 20 |\n",
        scripts.len(),
        turn_ms.len(),
        percentile(&turn_ms, 0.5),
        percentile(&turn_ms, 0.95),
        max(&turn_ms),
    );
    print!("{body}");
    write_section(out, "dialogue", &body)
}

//! The command line as a user meets it: real models, real files, and every bad input the issue names
//! giving one clear error, a non-zero exit and no panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn helpline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_helpline")).args(args).output().expect("run helpline")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path).display().to_string()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("helpline-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A failure must be an error message, not a panic or a crash.
fn assert_clean_failure(out: &Output, must_mention: &[&str]) {
    let err = stderr(out);
    assert!(!out.status.success(), "expected failure, got success: {err}");
    assert_eq!(out.status.code(), Some(1), "exit code (a panic exits 101): {err}");
    assert!(!err.contains("panicked"), "panicked: {err}");
    for needle in must_mention {
        assert!(err.contains(needle), "error should mention {needle:?}: {err}");
    }
}

#[test]
fn transcribe_json_prints_one_object_per_file() {
    let out = helpline(&[
        "transcribe",
        "--json",
        &repo("audio-samples/clips/jfk.wav"),
        &repo("audio-samples/caller-stolen-card-8k.wav"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(lines.len(), 2);
    for key in ["file", "text", "confidence", "duration_s", "processing_s", "segments"] {
        assert!(lines[0].get(key).is_some(), "missing {key} in {}", lines[0]);
    }
    assert!(lines[0]["text"]
        .as_str()
        .unwrap()
        .to_lowercase()
        .contains("ask not what your country can do for you"));
    assert!(lines[1]["text"].as_str().unwrap().to_lowercase().contains("stolen"), "{}", lines[1]);
    let segment = &lines[0]["segments"][0];
    assert!(segment["start_s"].is_number() && segment["end_s"].is_number() && segment["text"].is_string());
}

#[test]
fn raw_telephone_audio_is_transcribed_with_its_encoding_and_rate() {
    let dir = temp_dir("raw");
    let raw = dir.join("caller.ulaw");
    // Strip the WAV header of the committed 8 kHz mu-law caller recording: what an IVR platform stores.
    let wav = std::fs::read(repo("audio-samples/caller-stolen-card-8k.wav")).expect("caller");
    let data_at = wav.windows(4).position(|w| w == b"data").expect("data chunk") + 8;
    std::fs::write(&raw, &wav[data_at..]).expect("write raw");
    let out = helpline(&["transcribe", "--raw", "mulaw", "--rate", "8000", raw.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).to_lowercase().contains("stolen"));

    let out = helpline(&["transcribe", "--raw", "mulaw", raw.to_str().unwrap()]);
    assert_clean_failure(&out, &["--rate"]);
}

#[test]
fn say_writes_telephone_ready_audio_in_each_format() {
    let dir = temp_dir("say");
    for (format, rate, bits) in [("mulaw", "8000", 8u16), ("alaw", "8000", 8), ("pcm16", "16000", 16)] {
        let path = dir.join(format!("reply-{format}.wav"));
        let out = helpline(&[
            "say",
            "Thank you for calling. Your balance is $42.50.",
            "-o",
            path.to_str().unwrap(),
            "--format",
            format,
            "--rate",
            rate,
        ]);
        assert!(out.status.success(), "{format}: {}", stderr(&out));
        let bytes = std::fs::read(&path).expect("reply");
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(bytes[24..28].try_into().unwrap()), rate.parse::<u32>().unwrap());
        assert_eq!(u16::from_le_bytes(bytes[34..36].try_into().unwrap()), bits);
        let seconds = (bytes.len() - 44) as f64 / (rate.parse::<f64>().unwrap() * f64::from(bits / 8));
        assert!((1.5..12.0).contains(&seconds), "{format}: {seconds} s of audio");
    }
}

#[test]
fn bad_audio_files_give_clear_errors() {
    let dir = temp_dir("bad-audio");
    let empty = dir.join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    assert_clean_failure(&helpline(&["transcribe", empty.to_str().unwrap()]), &["empty.wav", "empty"]);

    let corrupt = dir.join("corrupt.wav");
    std::fs::write(&corrupt, b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunkjunk").unwrap();
    assert_clean_failure(&helpline(&["transcribe", corrupt.to_str().unwrap()]), &["corrupt.wav", "WAV"]);

    let truncated = dir.join("truncated.wav");
    let whole = std::fs::read(repo("audio-samples/clips/jfk.wav")).unwrap();
    std::fs::write(&truncated, &whole[..20]).unwrap();
    assert_clean_failure(&helpline(&["transcribe", truncated.to_str().unwrap()]), &["truncated.wav"]);

    let odd = dir.join("odd.raw");
    std::fs::write(&odd, [1u8, 2, 3]).unwrap();
    assert_clean_failure(
        &helpline(&["transcribe", "--raw", "s16le", "--rate", "8000", odd.to_str().unwrap()]),
        &["odd.raw", "16-bit"],
    );

    let out = helpline(&["transcribe", "/nonexistent/call.wav"]);
    assert_clean_failure(&out, &["/nonexistent/call.wav"]);
}

#[test]
fn bad_text_to_say_gives_clear_errors() {
    let dir = temp_dir("bad-text");
    let out_path = dir.join("x.wav");
    let out = helpline(&["say", "?!... ,", "-o", out_path.to_str().unwrap()]);
    assert_clean_failure(&out, &["nothing to say"]);
    let long = "word ".repeat(2000);
    let out = helpline(&["say", &long, "-o", out_path.to_str().unwrap()]);
    assert_clean_failure(&out, &["10000"]);
    let out = helpline(&["say", "hello", "-o", out_path.to_str().unwrap(), "--rate", "44100"]);
    assert!(!out.status.success() && stderr(&out).contains("8000"), "{}", stderr(&out));
}

/// A models directory with the manifest but files that are missing or damaged.
fn broken_models(name: &str) -> PathBuf {
    let dir = temp_dir(name).join("models");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(repo("models/manifest.json"), dir.join("manifest.json")).unwrap();
    dir
}

#[test]
fn a_missing_model_names_the_command_that_fetches_it() {
    let models = broken_models("missing");
    let out = helpline(&["--models", models.to_str().unwrap(), "transcribe", &repo("audio-samples/clips/jfk.wav")]);
    assert_clean_failure(&out, &["ggml-tiny.en.bin", "helpline models fetch"]);
    let out = helpline(&["--models", models.to_str().unwrap(), "say", "hello", "-o", "/tmp/x.wav"]);
    assert_clean_failure(&out, &["helpline models fetch"]);
    let out = helpline(&["--models", models.to_str().unwrap(), "models", "check"]);
    assert_clean_failure(&out, &["missing", "helpline models fetch"]);
}

#[test]
fn a_corrupt_model_is_caught_by_its_checksum_and_by_the_loader() {
    let models = broken_models("corrupt");
    let whisper = models.join("whisper");
    std::fs::create_dir_all(&whisper).unwrap();
    std::fs::write(whisper.join("ggml-tiny.en.bin"), b"ggml? no, garbage").unwrap();
    std::fs::create_dir_all(whisper.join("tiny.en-ct2")).unwrap();
    std::fs::write(whisper.join("tiny.en-ct2/model.bin"), b"tampered").unwrap();
    let out = helpline(&["--models", models.to_str().unwrap(), "models", "check", "tiny.en"]);
    assert_clean_failure(&out, &["corrupt"]);
    let out = helpline(&["--models", models.to_str().unwrap(), "transcribe", &repo("audio-samples/clips/jfk.wav")]);
    assert_clean_failure(&out, &["ggml-tiny.en.bin", "models fetch --force"]);
}

#[test]
fn models_check_passes_on_the_installed_set() {
    let out = helpline(&["models", "check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = helpline(&["models", "list", "--json"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.lines().any(|l| l.contains("\"tiny.en\"") && l.contains("\"installed\":true")), "{stdout}");
}

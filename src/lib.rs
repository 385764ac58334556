//! # Helpline: an on-device voice assistant for phone customer support
//!
//! A caller's audio flows through these stages, each a module with one small public face:
//!
//! - [`audio`]: the caller's and the assistant's sound. WAV in and out (`hound`), raw telephone audio
//!   (G.711 mu-law / A-law, linear PCM), resampling (`rubato`) and 20 ms framing. Knows nothing of speech.
//! - [`vad`]: voice activity. Silero VAD through ONNX Runtime at 8 or 16 kHz turns frames into speech
//!   start / end events, so silence never reaches the recogniser and long recordings split into utterances.
//! - [`asr`]: speech to text. The [`asr::Recognizer`] trait, and whisper.cpp (`whisper-rs`) behind it:
//!   one model loaded and shared, a decoder state per recognition, confidence from token
//!   probabilities, and guards against Whisper's hallucinations on silence and noise.
//! - [`tts`]: text to speech. The [`tts::Synthesizer`] trait, and a Piper voice run through ONNX Runtime
//!   with espeak-ng phonemes, one sentence at a time so a caller hears the first sentence early; text is
//!   first normalised so numbers, money and dates read naturally.
//! - [`models`]: where model files live, their checksums, fetching them from the Python package index,
//!   and converting Whisper from CTranslate2 to whisper.cpp's ggml format.
//! - [`eval`]: word error rate with the normalisation that makes it fair (case, punctuation, numerals).
//! - [`nlu`]: understanding callers: intents with calibrated confidence, out-of-scope, entities, sentiment.
//! - [`dialogue`]: deciding what to say next. A line (files a business writes: flows of steps, messages,
//!   hand-off policy, actions, FAQ) is loaded and checked once; the [`dialogue::Engine`] runs one session
//!   per conversation on text turns, fills slots, runs actions (built in, or HTTP webhooks), answers FAQ
//!   questions mid-flow and resumes, personalises by who is calling. Knows nothing of audio or gRPC.
//! - [`handoff`]: why a conversation goes to a person (reason codes) and the packet an agent reads.
//! - [`store`]: what Helpline remembers (customers, sessions, transcripts, calls, the agents' queue)
//!   behind one trait; SQLite with migrations is the embedded default.
//! - [`call`]: one phone call top to bottom: endpointing, recognition, dialogue, synthesis, barge-in,
//!   DTMF, no dead air; the [`call::Switchboard`] shares models and workers across calls.
//! - [`service`]: the gRPC wire. `proto/helpline.proto` is the contract: one bidirectional stream per
//!   phone call (`PhoneLine.Converse`: set-up, then audio, DTMF and text in; transcripts, understanding,
//!   replies as text and audio, hand-off and a timing record out) and the agents' queue (`AgentQueue`).
//!   The service checks every platform message, maps it to the call's inputs and outputs, and holds no
//!   dialogue or speech logic; health and reflection are on, so standard gRPC tools work. Its client
//!   places calls from recordings for `helpline call`, the tests and the benchmarks.
//! - [`bench`]: the benchmarks that write `BENCHMARKS.md`; a benchmark is a feature, run from the CLI.
//!
//! The binary (`src/main.rs` and `src/cli/`) is the only place that knows about the command line.

pub mod asr;
pub mod audio;
pub mod bench;
pub mod call;
pub mod dialogue;
pub mod eval;
pub mod handoff;
pub mod models;
pub mod nlu;
pub mod service;
pub mod store;
pub mod tts;
pub mod vad;

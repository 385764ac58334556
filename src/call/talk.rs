//! `helpline talk`: a live conversation with the assistant through this computer's microphone and
//! speaker (cpal), running a [`Switchboard`] in-process.
//!
//! The microphone is the caller's line: its samples are mixed down, resampled to 16 kHz and sent as
//! 20 ms linear 16-bit frames, exactly as a wideband phone platform would send them. Reply audio is
//! resampled to the speaker's rate and played; `StopPlayback` empties the speaker's queue at once, and
//! the end of a reply's audio is reported back as `PlaybackFinished`.
//!
//! A laptop's microphone hears its own speaker, and the assistant would barge in on itself; so unless
//! the user wears headphones (`headphones`), the microphone is muted (silence is sent) while the
//! assistant speaks.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, Sample, SampleFormat, SizedSample};
use rubato::{FftFixedIn, Resampler};
use tokio::sync::mpsc;

use super::{CallInput, CallOutput, CallSetup, EndReason, Pacing, Switchboard};
use crate::audio::{AudioError, Encoding, FRAME_MS};
use crate::dialogue::Channel;

/// The line `talk` opens: wideband linear PCM, what a good VoIP line carries.
const RATE: u32 = 16_000;

/// How often the speaker's queue is checked for the end of a reply.
const PLAYOUT_POLL: Duration = Duration::from_millis(20);

#[derive(Debug, thiserror::Error)]
pub enum TalkError {
    #[error("no microphone found; plug one in (or pick a default input device in the system's sound settings)")]
    NoMicrophone,
    #[error("no speaker found; plug one in (or pick a default output device in the system's sound settings)")]
    NoSpeaker,
    #[error("the {device} cannot be used: {reason}")]
    Device { device: &'static str, reason: String },
    #[error("the {device} uses {format} samples, which talk cannot convert; choose another device")]
    SampleFormat { device: &'static str, format: String },
    #[error(transparent)]
    Audio(#[from] AudioError),
}

/// How to talk.
#[derive(Debug, Clone, Default)]
pub struct TalkOptions {
    /// The user wears headphones: the microphone stays open while the assistant speaks, so they can
    /// barge in.
    pub headphones: bool,
    /// The caller's number, as a phone platform would send it (to be recognised as a customer).
    pub caller: Option<String>,
}

/// A resampler for a stream that arrives in pieces of any size (rubato's FFT resampler, state kept
/// between pieces).
pub struct StreamResampler {
    inner: Option<(FftFixedIn<f32>, Vec<Vec<f32>>)>,
    chunk: usize,
    pending: Vec<f32>,
    from: u32,
    to: u32,
}

impl StreamResampler {
    pub fn new(from: u32, to: u32) -> Result<Self, AudioError> {
        // 20 ms input chunks: a frame's worth of latency at most.
        let chunk = (from as usize / 50).max(1);
        let inner = if from == to {
            None
        } else {
            let resampler = FftFixedIn::<f32>::new(from as usize, to as usize, chunk, 1, 1)
                .map_err(|e| AudioError::Resample { from, to, reason: e.to_string() })?;
            let buffer = resampler.output_buffer_allocate(true);
            Some((resampler, buffer))
        };
        Ok(Self { inner, chunk, pending: Vec::new(), from, to })
    }

    /// Resample the next piece of the stream; output lags input by up to a chunk plus the filter delay.
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<f32>, AudioError> {
        let Some((resampler, buffer)) = self.inner.as_mut() else { return Ok(samples.to_vec()) };
        self.pending.extend_from_slice(samples);
        let mut out = Vec::new();
        let mut used = 0;
        while self.pending.len() - used >= self.chunk {
            let piece = &self.pending[used..used + self.chunk];
            let (_, written) = resampler
                .process_into_buffer(&[piece], buffer, None)
                .map_err(|e| AudioError::Resample { from: self.from, to: self.to, reason: e.to_string() })?;
            out.extend_from_slice(&buffer[0][..written]);
            used += self.chunk;
        }
        self.pending.drain(..used);
        Ok(out)
    }
}

/// Microphone samples (interleaved, any rate and channel count) → the call's 20 ms frames.
pub struct MicConverter {
    channels: usize,
    resampler: StreamResampler,
    line: Vec<f32>,
}

impl MicConverter {
    pub fn new(device_rate: u32, channels: u16) -> Result<Self, AudioError> {
        Ok(Self {
            channels: usize::from(channels.max(1)),
            resampler: StreamResampler::new(device_rate, RATE)?,
            line: Vec::new(),
        })
    }

    /// The whole frames (linear 16-bit, 16 kHz) these samples complete.
    pub fn push(&mut self, interleaved: &[f32]) -> Result<Vec<Vec<u8>>, AudioError> {
        let mono: Vec<f32> = interleaved
            .chunks(self.channels)
            .map(|frame| frame.iter().sum::<f32>() / frame.len() as f32)
            .collect();
        self.line.extend(self.resampler.push(&mono)?);
        let frame = (RATE * FRAME_MS / 1000) as usize;
        let whole = self.line.len() / frame * frame;
        let frames = self.line[..whole].chunks(frame).map(|f| Encoding::S16le.encode(f)).collect();
        self.line.drain(..whole);
        Ok(frames)
    }
}

/// Reply audio (linear 16-bit, 16 kHz) → interleaved samples for the speaker.
pub struct SpeakerConverter {
    channels: usize,
    resampler: StreamResampler,
}

impl SpeakerConverter {
    pub fn new(device_rate: u32, channels: u16) -> Result<Self, AudioError> {
        Ok(Self { channels: usize::from(channels.max(1)), resampler: StreamResampler::new(RATE, device_rate)? })
    }

    pub fn push(&mut self, line: &[u8]) -> Result<Vec<f32>, AudioError> {
        let mono = self.resampler.push(&Encoding::S16le.decode(line)?)?;
        Ok(mono.iter().flat_map(|&s| std::iter::repeat_n(s, self.channels)).collect())
    }
}

/// What the speaker still has to play, and of which reply.
#[derive(Default)]
struct Playout {
    samples: VecDeque<f32>,
    reply_id: Option<u64>,
    /// The reply's last chunk has arrived: once `samples` runs dry, it has played.
    complete: bool,
}

fn lock(playout: &Mutex<Playout>) -> std::sync::MutexGuard<'_, Playout> {
    // The queue is valid after every statement, so a panic elsewhere leaves it usable.
    playout.lock().unwrap_or_else(PoisonError::into_inner)
}

fn device_error(device: &'static str) -> impl Fn(cpal::Error) -> TalkError {
    move |e| TalkError::Device { device, reason: e.to_string() }
}

/// Open the microphone; its samples (as f32, interleaved) go to `samples`.
fn open_microphone(
    device: &cpal::Device,
    samples: mpsc::Sender<Vec<f32>>,
) -> Result<(cpal::Stream, u32, u16), TalkError> {
    let config = device.default_input_config().map_err(device_error("microphone"))?;
    let (rate, channels) = (config.sample_rate(), config.channels());
    fn build<T: SizedSample>(
        device: &cpal::Device,
        config: cpal::StreamConfig,
        samples: mpsc::Sender<Vec<f32>>,
    ) -> Result<cpal::Stream, TalkError>
    where
        f32: FromSample<T>,
    {
        device
            .build_input_stream(
                config,
                // Never block the audio thread: if the call falls behind, a piece of audio is dropped.
                move |data: &[T], _: &cpal::InputCallbackInfo| {
                    let _ = samples.try_send(data.iter().map(|&s| f32::from_sample(s)).collect());
                },
                |error| tracing::warn!(%error, "microphone"),
                None,
            )
            .map_err(device_error("microphone"))
    }
    let stream = match config.sample_format() {
        SampleFormat::F32 => build::<f32>(device, config.config(), samples),
        SampleFormat::I16 => build::<i16>(device, config.config(), samples),
        SampleFormat::U16 => build::<u16>(device, config.config(), samples),
        SampleFormat::I32 => build::<i32>(device, config.config(), samples),
        format => Err(TalkError::SampleFormat { device: "microphone", format: format.to_string() }),
    }?;
    Ok((stream, rate, channels))
}

/// Open the speaker, playing whatever `playout` holds (silence when it is empty).
fn open_speaker(device: &cpal::Device, playout: Arc<Mutex<Playout>>) -> Result<(cpal::Stream, u32, u16), TalkError> {
    let config = device.default_output_config().map_err(device_error("speaker"))?;
    let (rate, channels) = (config.sample_rate(), config.channels());
    fn build<T: SizedSample + FromSample<f32>>(
        device: &cpal::Device,
        config: cpal::StreamConfig,
        playout: Arc<Mutex<Playout>>,
    ) -> Result<cpal::Stream, TalkError> {
        device
            .build_output_stream(
                config,
                move |data: &mut [T], _: &cpal::OutputCallbackInfo| {
                    let mut playout = lock(&playout);
                    for slot in data.iter_mut() {
                        *slot = T::from_sample(playout.samples.pop_front().unwrap_or(0.0));
                    }
                },
                |error| tracing::warn!(%error, "speaker"),
                None,
            )
            .map_err(device_error("speaker"))
    }
    let stream = match config.sample_format() {
        SampleFormat::F32 => build::<f32>(device, config.config(), playout),
        SampleFormat::I16 => build::<i16>(device, config.config(), playout),
        SampleFormat::U16 => build::<u16>(device, config.config(), playout),
        SampleFormat::I32 => build::<i32>(device, config.config(), playout),
        format => Err(TalkError::SampleFormat { device: "speaker", format: format.to_string() }),
    }?;
    Ok((stream, rate, channels))
}

/// Talk with the assistant until the conversation ends, the user hangs up (Ctrl-C) or a device fails.
/// Every output of the call is shown to `on_output` (transcripts, replies) as it happens.
pub async fn talk(
    board: Arc<Switchboard>,
    options: TalkOptions,
    mut on_output: impl FnMut(&CallOutput),
) -> Result<EndReason, TalkError> {
    let host = cpal::default_host();
    let microphone = host.default_input_device().ok_or(TalkError::NoMicrophone)?;
    let speaker = host.default_output_device().ok_or(TalkError::NoSpeaker)?;
    let (mic_tx, mut mic_rx) = mpsc::channel::<Vec<f32>>(256);
    let playout = Arc::new(Mutex::new(Playout::default()));
    let (mic_stream, mic_rate, mic_channels) = open_microphone(&microphone, mic_tx)?;
    let (speaker_stream, speaker_rate, speaker_channels) = open_speaker(&speaker, Arc::clone(&playout))?;
    let mut mic = MicConverter::new(mic_rate, mic_channels)?;
    let mut voice = SpeakerConverter::new(speaker_rate, speaker_channels)?;
    mic_stream.play().map_err(device_error("microphone"))?;
    speaker_stream.play().map_err(device_error("speaker"))?;

    let setup = CallSetup {
        call_id: format!("talk-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f")),
        caller: options.caller.clone(),
        called: None,
        encoding: Encoding::S16le,
        sample_rate: RATE,
        channel: Channel::Voice,
        metadata: BTreeMap::from([("source".to_string(), "helpline talk".to_string())]),
        pacing: Pacing::Realtime,
    };
    let (inputs, call_inputs) = mpsc::channel(64);
    let (call_outputs, mut outputs) = mpsc::channel(64);
    let call = tokio::spawn(Arc::clone(&board).run(setup, call_inputs, call_outputs));
    let mut poll = tokio::time::interval(PLAYOUT_POLL);
    let mut hung_up = false;
    loop {
        tokio::select! {
            Some(samples) = mic_rx.recv() => {
                let speaking = !lock(&playout).samples.is_empty();
                for mut frame in mic.push(&samples)? {
                    if speaking && !options.headphones {
                        frame.fill(0);
                    }
                    let _ = inputs.send(CallInput::Audio(frame)).await;
                }
            }
            output = outputs.recv() => {
                let Some(output) = output else { break };
                on_output(&output);
                match &output {
                    CallOutput::ReplyAudio { reply_id, audio, last, .. } => {
                        let samples = voice.push(audio)?;
                        let mut playout = lock(&playout);
                        if playout.reply_id != Some(*reply_id) {
                            *playout = Playout { reply_id: Some(*reply_id), ..Playout::default() };
                        }
                        playout.samples.extend(samples);
                        playout.complete = *last;
                    }
                    CallOutput::StopPlayback { .. } => *lock(&playout) = Playout::default(),
                    CallOutput::CallEnded { .. } => break,
                    _ => {}
                }
            }
            _ = poll.tick() => {
                let finished = {
                    let mut playout = lock(&playout);
                    let done = playout.complete && playout.samples.is_empty();
                    if done { playout.complete = false; playout.reply_id.take() } else { None }
                };
                if let Some(reply_id) = finished {
                    let _ = inputs.send(CallInput::PlaybackFinished { reply_id, interrupted: false }).await;
                }
            }
            _ = tokio::signal::ctrl_c(), if !hung_up => {
                hung_up = true;
                let _ = inputs.send(CallInput::HangUp).await;
            }
        }
    }
    drop(inputs);
    Ok(call.await.unwrap_or(EndReason::Error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::tones::{measured_frequency as frequency, sine};

    #[test]
    fn a_stereo_48k_microphone_becomes_20_ms_frames_of_16k_linear_audio() {
        let mono = sine(440.0, 48_000, 1.0);
        let stereo: Vec<f32> = mono.iter().flat_map(|&s| [s, s]).collect();
        let mut mic = MicConverter::new(48_000, 2).expect("converter");
        // In the odd pieces a sound card delivers.
        let frames: Vec<Vec<u8>> = stereo.chunks(1_234).flat_map(|piece| mic.push(piece).expect("push")).collect();
        assert!(frames.iter().all(|f| f.len() == 640), "20 ms of 16-bit samples at 16 kHz");
        assert!((48..=50).contains(&frames.len()), "{} frames for one second", frames.len());
        let line = Encoding::S16le.decode(&frames.concat()).expect("decode");
        assert!((frequency(&line, RATE) - 440.0).abs() < 5.0, "{} Hz", frequency(&line, RATE));
        let peak = line[line.len() / 4..line.len() * 3 / 4].iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.5).abs() < 0.05, "amplitude {peak}");
    }

    #[test]
    fn reply_audio_becomes_interleaved_samples_at_the_speakers_rate() {
        let line = Encoding::S16le.encode(&sine(300.0, RATE, 1.0));
        let mut speaker = SpeakerConverter::new(44_100, 2).expect("converter");
        let out: Vec<f32> = line.chunks(2 * 2_560).flat_map(|chunk| speaker.push(chunk).expect("push")).collect();
        let (left, right): (Vec<f32>, Vec<f32>) = out.chunks(2).map(|f| (f[0], f[1])).unzip();
        assert_eq!(left, right);
        assert!(left.len() > 40_000 && left.len() <= 44_100, "{} samples", left.len());
        assert!((frequency(&left, 44_100) - 300.0).abs() < 5.0);
    }

    #[test]
    fn a_device_at_the_lines_rate_passes_through() {
        let mut mic = MicConverter::new(RATE, 1).expect("converter");
        let frames = mic.push(&sine(440.0, RATE, 0.1)).expect("push");
        assert_eq!(frames.len(), 5);
    }
}

//! Endpointing: where the caller's turns start and end in their audio stream.
//!
//! The voice detector (Silero, at the call's own rate: 8 kHz calls are scored at 8 kHz) reports speech
//! starts and ends; this module keeps the recent audio so each utterance can be cut out whole, with a
//! little of the audio around it, for the recogniser, and hands out the audio of the utterance so far for
//! partial transcripts. How much silence ends a turn depends on what the dialogue waits for.

use std::sync::Arc;

use crate::vad::{SileroModel, VadConfig, VadError, VadEvent, VoiceDetector};

/// Silence that ends a caller's turn. 600 ms: people hand the turn over after pauses of a few hundred
/// milliseconds, but a caller explaining a problem hesitates mid-sentence for 300–500 ms (the voice
/// detector's default of 500 ms, a breath, still split such sentences in the committed phone-call
/// recordings). Every millisecond here is also a millisecond of the assistant's answer latency.
pub const TURN_SILENCE_MS: u32 = 600;

/// Silence that ends a turn while the dialogue waits for a digit string. Callers read numbers in groups
/// ("4 5 1 2 … 9 9 0 3") and look at the card between them; cutting them off after a group makes them
/// start again, so the turn waits 1.5 s. Keyed digits end the slot at once instead (see `dtmf`).
pub const DIGITS_SILENCE_MS: u32 = 1_500;

/// Speech this short is not a turn (nor a barge-in). 100 ms: a spoken digit can last 200 ms and must
/// survive, and barge-in must be decided within 200 ms of the caller's first sound; Silero's 250 ms
/// default would leave no time for the rest (a 32 ms chunk and the stop message). Coughs and clicks that
/// pass are caught later: they transcribe to nothing, and an interrupted reply resumes.
pub const MIN_SPEECH_MS: u32 = 100;

/// Audio kept on each side of an utterance for the recogniser: the detector's own 30 ms padding clips
/// soft onsets ("f", "six"), as `transcribe` found with isolated digits.
const UTTERANCE_PAD_MS: u64 = 300;

/// Audio kept while nobody speaks: enough to reach back to a speech start, which the detector reports
/// `MIN_SPEECH_MS` (plus a chunk) after the speech began, and the padding before it.
const LOOKBACK_MS: u64 = 1_000;

/// Partials are made for every this much new speech.
pub const PARTIAL_EVERY_MS: u64 = 1_000;

/// The live voice detector's settings.
pub fn live_vad_config() -> VadConfig {
    VadConfig { min_speech_ms: MIN_SPEECH_MS, min_silence_ms: TURN_SILENCE_MS, ..VadConfig::default() }
}

/// The silence that ends a turn while the session expects `digits` or not.
pub fn turn_silence_ms(expecting_digits: bool) -> u32 {
    if expecting_digits {
        DIGITS_SILENCE_MS
    } else {
        TURN_SILENCE_MS
    }
}

/// What the caller's audio revealed.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// The caller started speaking at this stream position (samples at the call's rate).
    SpeechStarted { at_sample: u64 },
    /// The caller finished a turn.
    Utterance(Utterance),
}

/// One turn of the caller's speech, with some audio around it.
#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    /// Speech as the detector placed it (samples since the call started, at the call's rate).
    pub start_sample: u64,
    pub end_sample: u64,
    /// The audio from a little before the start to a little after the end, at the call's rate.
    pub samples: Vec<f32>,
    /// The stream position of `samples[0]`.
    pub first_sample: u64,
}

/// The utterance so far, cut as its end would be if the pause the caller is in now ends their turn.
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyCut {
    /// Where the pause began (see [`Endpointer::pause_started_at`]).
    pub pause_sample: u64,
    pub start_sample: u64,
    pub end_sample: u64,
    /// Exactly the samples the [`Utterance`] will hold if the turn ends at this pause.
    pub samples: Vec<f32>,
}

impl EarlyCut {
    /// Whether `utterance` is the one this cut foresaw (the caller said nothing more).
    pub fn foresaw(&self, utterance: &Utterance) -> bool {
        self.start_sample == utterance.start_sample && self.end_sample == utterance.end_sample
    }
}

/// Voice activity and the recent audio of one caller.
pub struct Endpointer {
    detector: VoiceDetector,
    rate: u32,
    /// Recent audio; `audio[0]` is stream sample `audio_start`.
    audio: Vec<f32>,
    audio_start: u64,
    /// The start of the utterance in progress and where the last partial stopped.
    open: Option<(u64, u64)>,
    /// The pause an early cut was last made at, so each pause gets one.
    early_cut_at: Option<u64>,
}

impl Endpointer {
    pub fn new(model: Arc<SileroModel>, rate: u32) -> Result<Self, VadError> {
        Ok(Self {
            detector: VoiceDetector::new(model, rate, live_vad_config())?,
            rate,
            audio: Vec::new(),
            audio_start: 0,
            open: None,
            early_cut_at: None,
        })
    }

    /// Wait longer before ending a turn while digits are read out.
    pub fn expect_digits(&mut self, digits: bool) {
        self.detector.set_min_silence_ms(turn_silence_ms(digits));
    }

    /// Samples received so far.
    pub fn position(&self) -> u64 {
        self.audio_start + self.audio.len() as u64
    }

    /// The caller is in the middle of an utterance.
    pub fn is_speaking(&self) -> bool {
        self.open.is_some()
    }

    /// Take the caller's next samples (at the call's rate).
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<Heard>, VadError> {
        self.audio.extend_from_slice(samples);
        let events = self.detector.push(samples)?;
        let heard = events.into_iter().map(|event| self.on_event(event)).collect();
        self.trim();
        Ok(heard)
    }

    /// The audio of the utterance in progress, when `PARTIAL_EVERY_MS` of it is new since the last
    /// partial (which this call then counts as made).
    pub fn partial_due(&mut self) -> Option<Vec<f32>> {
        let (start, last) = self.open?;
        let now = self.position();
        if now.saturating_sub(last) < self.ms_to_samples(PARTIAL_EVERY_MS) {
            return None;
        }
        self.open = Some((start, now));
        Some(self.slice(start.saturating_sub(self.ms_to_samples(UTTERANCE_PAD_MS)), now))
    }

    /// The utterance so far, once per pause, as soon as the pause is long enough for the cut to hold
    /// exactly what the utterance will if the pause ends the turn (the detector's padding and ours are
    /// audio already heard): about 350 ms into the pause. Recognising it then, rather than when the turn
    /// is declared 600 ms in, takes recognition off the caller's wait; if they go on speaking, the cut
    /// is simply not the utterance (see [`EarlyCut::foresaw`]).
    pub fn early_cut_due(&mut self) -> Option<EarlyCut> {
        let (start_sample, _) = self.open?;
        let pause = self.detector.pause_started_at()?;
        if self.early_cut_at == Some(pause) {
            return None;
        }
        let vad_pad = u64::from(self.detector.config().speech_pad_ms) * u64::from(self.rate) / 1000;
        let end_sample = pause + vad_pad;
        let (first, last) = self.cut_bounds(start_sample, end_sample);
        if self.position() < last {
            return None;
        }
        self.early_cut_at = Some(pause);
        Some(EarlyCut { pause_sample: pause, start_sample, end_sample, samples: self.slice(first, last) })
    }

    /// The pause the caller is in now began at this sample (`None` while they speak or are silent
    /// between turns).
    pub fn pause_started_at(&self) -> Option<u64> {
        self.open.and(self.detector.pause_started_at())
    }

    /// The stream samples an utterance from `start_sample` to `end_sample` is cut out with.
    fn cut_bounds(&self, start_sample: u64, end_sample: u64) -> (u64, u64) {
        let pad = self.ms_to_samples(UTTERANCE_PAD_MS);
        (start_sample.saturating_sub(pad).max(self.audio_start), end_sample + pad)
    }

    fn on_event(&mut self, event: VadEvent) -> Heard {
        match event {
            VadEvent::SpeechStart { at_sample } => {
                self.open = Some((at_sample, at_sample));
                Heard::SpeechStarted { at_sample }
            }
            VadEvent::SpeechEnd { start_sample, end_sample } => {
                self.open = None;
                let (first_sample, last) = self.cut_bounds(start_sample, end_sample);
                let samples = self.slice(first_sample, last);
                Heard::Utterance(Utterance { start_sample, end_sample, samples, first_sample })
            }
        }
    }

    /// Stream samples `from..to`, as far as they are kept.
    fn slice(&self, from: u64, to: u64) -> Vec<f32> {
        let from = from.saturating_sub(self.audio_start).min(self.audio.len() as u64) as usize;
        let to = to.saturating_sub(self.audio_start).min(self.audio.len() as u64) as usize;
        self.audio[from..to.max(from)].to_vec()
    }

    /// Forget audio no utterance can reach back to.
    fn trim(&mut self) {
        let keep_from = match self.open {
            Some((start, _)) => start.saturating_sub(self.ms_to_samples(UTTERANCE_PAD_MS)),
            None => self.position().saturating_sub(self.ms_to_samples(LOOKBACK_MS)),
        };
        let drop = keep_from.saturating_sub(self.audio_start) as usize;
        // Trim in blocks, not every 20 ms frame: draining shifts the whole buffer.
        if drop >= self.rate as usize {
            self.audio.drain(..drop);
            self.audio_start += drop as u64;
        }
    }

    fn ms_to_samples(&self, ms: u64) -> u64 {
        ms * u64::from(self.rate) / 1000
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::OnceLock;

    use super::*;
    use crate::audio::{wav, FRAME_MS};
    use crate::models::ModelDir;

    fn model() -> Arc<SileroModel> {
        static MODEL: OnceLock<Arc<SileroModel>> = OnceLock::new();
        Arc::clone(MODEL.get_or_init(|| {
            let models = ModelDir::locate(None).expect("models (set HELPLINE_MODELS)");
            Arc::new(SileroModel::load(&models, 1).expect("Silero VAD model (run `helpline models fetch`)"))
        }))
    }

    /// The committed clean sentence at `rate`.
    fn sentence(rate: u32) -> Vec<f32> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("audio-samples/arctic_a0001_trimmed_16k.wav");
        wav::read(&path).expect("sample").to_rate(rate).expect("resample").samples
    }

    /// Feed `audio` in 20 ms frames, as a phone line does.
    fn feed(endpointer: &mut Endpointer, audio: &[f32]) -> Vec<Heard> {
        let frame = (endpointer.rate * FRAME_MS / 1000) as usize;
        audio.chunks(frame).flat_map(|f| endpointer.push(f).expect("push")).collect()
    }

    fn utterances(heard: &[Heard]) -> Vec<&Utterance> {
        heard.iter().filter_map(|h| if let Heard::Utterance(u) = h { Some(u) } else { None }).collect()
    }

    /// Sentence, `gap_ms` of silence, the sentence again, two seconds of silence.
    fn two_phrases(rate: u32, gap_ms: u64) -> Vec<f32> {
        let speech = sentence(rate);
        let silence = |ms: u64| vec![0.0f32; (ms * u64::from(rate) / 1000) as usize];
        [silence(500), speech.clone(), silence(gap_ms), speech, silence(2_000)].concat()
    }

    #[test]
    fn a_turn_is_cut_out_whole_with_padding_at_8k_and_16k() {
        for rate in [8_000, 16_000] {
            let speech = sentence(rate);
            let mut endpointer = Endpointer::new(model(), rate).expect("endpointer");
            let audio = [vec![0.0; rate as usize / 2], speech.clone(), vec![0.0; rate as usize * 2]].concat();
            let heard = feed(&mut endpointer, &audio);
            assert!(matches!(heard.first(), Some(Heard::SpeechStarted { .. })), "{rate} Hz: {heard:?}");
            let found = utterances(&heard);
            assert_eq!(found.len(), 1, "{rate} Hz");
            let utterance = found[0];
            let pad = UTTERANCE_PAD_MS * u64::from(rate) / 1000;
            assert_eq!(utterance.samples.len() as u64, utterance.end_sample - utterance.start_sample + 2 * pad);
            // The cut covers the real speech (0.5 s in, for the clip's length).
            let (start_s, end_s) = (0.5, 0.5 + speech.len() as f64 / f64::from(rate));
            let cut_start = (utterance.start_sample - pad) as f64 / f64::from(rate);
            let cut_end = (utterance.end_sample + pad) as f64 / f64::from(rate);
            assert!(cut_start <= start_s && cut_end >= end_s, "{rate} Hz: cut {cut_start}..{cut_end}");
            assert!(!endpointer.is_speaking());
        }
    }

    #[test]
    fn a_one_second_pause_ends_a_turn_but_not_while_digits_are_read() {
        let rate = 8_000;
        let audio = two_phrases(rate, 1_000);
        let mut normal = Endpointer::new(model(), rate).expect("endpointer");
        assert_eq!(utterances(&feed(&mut normal, &audio)).len(), 2);

        let mut digits = Endpointer::new(model(), rate).expect("endpointer");
        digits.expect_digits(true);
        assert_eq!(utterances(&feed(&mut digits, &audio)).len(), 1);
    }

    #[test]
    fn partials_come_every_second_of_new_speech_and_hold_the_utterance_so_far() {
        let rate = 16_000;
        let mut endpointer = Endpointer::new(model(), rate).expect("endpointer");
        let audio = two_phrases(rate, 300);
        let frame = (rate * FRAME_MS / 1000) as usize;
        let mut partial_lengths = Vec::new();
        for chunk in audio.chunks(frame) {
            endpointer.push(chunk).expect("push");
            if let Some(partial) = endpointer.partial_due() {
                partial_lengths.push(partial.len());
            }
        }
        assert!(partial_lengths.len() >= 3, "{partial_lengths:?}");
        assert!(partial_lengths.windows(2).all(|w| w[1] > w[0]), "each partial holds more: {partial_lengths:?}");
        let step = partial_lengths[1] - partial_lengths[0];
        assert!((step as i64 - rate as i64).abs() <= frame as i64, "one second apart: {step}");
    }

    #[test]
    fn an_early_cut_at_each_pause_holds_exactly_the_utterance_a_final_pause_ends() {
        for rate in [8_000, 16_000] {
            let mut endpointer = Endpointer::new(model(), rate).expect("endpointer");
            // A 400 ms pause inside the turn, then the end of it.
            let audio = two_phrases(rate, 400);
            let frame = (rate * FRAME_MS / 1000) as usize;
            let (mut cuts, mut heard) = (Vec::new(), Vec::new());
            for chunk in audio.chunks(frame) {
                heard.extend(endpointer.push(chunk).expect("push"));
                if let Some(cut) = endpointer.early_cut_due() {
                    let silence_ms = (endpointer.position() - cut.end_sample) * 1000 / u64::from(rate);
                    assert!(silence_ms <= UTTERANCE_PAD_MS + 40, "{rate} Hz: cut {silence_ms} ms after its end");
                    cuts.push(cut);
                }
            }
            let found = utterances(&heard);
            assert_eq!(found.len(), 1, "{rate} Hz: one turn");
            assert_eq!(cuts.len(), 2, "{rate} Hz: one cut in the pause inside the turn, one at its end");
            assert!(!cuts[0].foresaw(found[0]), "{rate} Hz: the caller went on after the first pause");
            assert!(cuts[1].foresaw(found[0]), "{rate} Hz: the turn ended at the second pause");
            assert_eq!(cuts[1].samples, found[0].samples, "{rate} Hz: the same audio as the utterance");
            assert_eq!(endpointer.pause_started_at(), None);
        }
    }

    #[test]
    fn only_recent_audio_is_kept_between_turns() {
        let rate = 8_000;
        let mut endpointer = Endpointer::new(model(), rate).expect("endpointer");
        feed(&mut endpointer, &vec![0.0; rate as usize * 30]);
        assert_eq!(endpointer.position(), u64::from(rate) * 30);
        assert!(endpointer.audio.len() <= 2 * rate as usize + 160, "{} samples kept", endpointer.audio.len());
    }
}

//! The assistant's side of the line: synthesised sentences become chunks of telephone audio, and the
//! call keeps track of how far the caller has heard, so it knows when a reply has played out and which
//! sentence a barge-in cut.

use crate::audio::{Audio, AudioError, Encoding};

use super::Pacing;

/// Reply audio goes out in 160 ms chunks: eight 20 ms telephony frames, small enough that a barge-in
/// wastes little already-sent audio, large enough to keep the message rate low (six a second).
pub const CHUNK_MS: u64 = 160;

/// One sentence of the voice's audio as the line carries it: resampled to the call's rate and encoded,
/// after `pause_ms` of silence (the pause between sentences that `Synthesizer::synthesize_all` makes).
pub fn for_the_line(
    samples: &[f32],
    voice_rate: u32,
    rate: u32,
    encoding: Encoding,
    pause_ms: u32,
) -> Result<Vec<u8>, AudioError> {
    let mut line = vec![0.0f32; (u64::from(rate) * u64::from(pause_ms) / 1000) as usize];
    line.extend(Audio::new(samples.to_vec(), voice_rate).to_rate(rate)?.samples);
    Ok(encoding.encode(&line))
}

/// One chunk to send as `ReplyAudio`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub seq: u64,
    pub audio: Vec<u8>,
    pub last: bool,
}

/// Where a barge-in cut a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    pub reply_id: u64,
    /// The reply's text from the sentence the caller interrupted on; empty if it had all been heard.
    pub remaining: String,
}

/// One sentence's place in a reply: where its text ends (byte offset) and where its audio ends (ms from
/// the reply's start).
#[derive(Debug, Clone)]
struct Span {
    text_end: usize,
    end_ms: u64,
}

/// The reply on the line.
#[derive(Debug)]
struct Speaking {
    reply_id: u64,
    text: String,
    spans: Vec<Span>,
    /// Audio sent so far, in bytes (of which `held` is not yet sent).
    sent_bytes: usize,
    held: Option<Vec<u8>>,
    seq: u64,
    /// Call time (ms) the first chunk went out: playback starts then.
    play_start_ms: Option<u64>,
    synthesis_done: bool,
    client_finished: bool,
}

/// The reply being spoken and how far it has played.
#[derive(Debug)]
pub struct Playback {
    pacing: Pacing,
    chunk_bytes: usize,
    bytes_per_ms: f64,
    current: Option<Speaking>,
}

impl Playback {
    pub fn new(encoding: Encoding, rate: u32, pacing: Pacing) -> Self {
        let bytes_per_ms = f64::from(rate) * encoding.bytes_per_sample() as f64 / 1000.0;
        Self { pacing, chunk_bytes: (bytes_per_ms * CHUNK_MS as f64) as usize, bytes_per_ms, current: None }
    }

    /// Start speaking a reply (its audio follows sentence by sentence).
    pub fn start(&mut self, reply_id: u64, text: &str) {
        self.current = Some(Speaking {
            reply_id,
            text: text.to_string(),
            spans: Vec::new(),
            sent_bytes: 0,
            held: None,
            seq: 0,
            play_start_ms: None,
            synthesis_done: false,
            client_finished: false,
        });
    }

    /// The reply on the line, if any.
    pub fn current_id(&self) -> Option<u64> {
        self.current.as_ref().map(|s| s.reply_id)
    }

    /// Whether the reply's first audio has gone out.
    pub fn has_audio(&self) -> bool {
        self.current.as_ref().is_some_and(|s| s.play_start_ms.is_some())
    }

    /// A synthesised sentence of `reply_id`, encoded for the line: the chunks to send now. The last chunk
    /// is held back until it is known whether another sentence follows, so it can carry `last`.
    pub fn sentence(&mut self, reply_id: u64, text: &str, audio: Vec<u8>, now_ms: u64) -> Vec<Chunk> {
        let chunk_bytes = self.chunk_bytes.max(1);
        let bytes_per_ms = self.bytes_per_ms;
        let Some(speaking) = self.current.as_mut().filter(|s| s.reply_id == reply_id) else {
            return Vec::new();
        };
        let cursor = speaking.spans.last().map_or(0, |s| s.text_end);
        let text_start = speaking.text[cursor..].find(text.trim()).map_or(cursor, |at| cursor + at);
        let text_end = (text_start + text.trim().len()).min(speaking.text.len());
        let total = speaking.sent_bytes + audio.len();
        speaking.spans.push(Span { text_end, end_ms: (total as f64 / bytes_per_ms) as u64 });
        speaking.sent_bytes = total;

        let mut pending: Vec<u8> = speaking.held.take().unwrap_or_default();
        pending.extend(audio);
        let mut chunks = Vec::new();
        while pending.len() > chunk_bytes {
            let rest = pending.split_off(chunk_bytes);
            chunks.push(Chunk { seq: speaking.seq, audio: std::mem::replace(&mut pending, rest), last: false });
            speaking.seq += 1;
        }
        speaking.held = (!pending.is_empty()).then_some(pending);
        if !chunks.is_empty() {
            speaking.play_start_ms.get_or_insert(now_ms);
        }
        chunks
    }

    /// Synthesis of `reply_id` has finished: the held chunk goes out marked `last`.
    pub fn synthesis_done(&mut self, reply_id: u64, now_ms: u64) -> Option<Chunk> {
        let speaking = self.current.as_mut().filter(|s| s.reply_id == reply_id)?;
        speaking.synthesis_done = true;
        let audio = speaking.held.take()?;
        speaking.play_start_ms.get_or_insert(now_ms);
        let chunk = Chunk { seq: speaking.seq, audio, last: true };
        speaking.seq += 1;
        Some(chunk)
    }

    /// The client says it has played `reply_id` to the end.
    pub fn client_finished(&mut self, reply_id: u64) {
        // A report before the last chunk went out is a buffer running dry, not the end of the reply.
        if let Some(speaking) = self.current.as_mut().filter(|s| s.reply_id == reply_id && s.synthesis_done) {
            speaking.client_finished = true;
        }
    }

    /// When the current reply will have played out by estimate (call time, ms), once all of it is sent.
    pub fn deadline_ms(&self) -> Option<u64> {
        let speaking = self.current.as_ref().filter(|s| s.synthesis_done && !s.client_finished)?;
        match self.pacing {
            Pacing::Fast => None,
            Pacing::Realtime => Some(
                speaking.play_start_ms.unwrap_or(0) + (speaking.sent_bytes as f64 / self.bytes_per_ms).ceil() as u64,
            ),
        }
    }

    /// If the current reply has played out by `now_ms`, take it off the line and return its id.
    /// Real time: the client's report, or the audio's duration from its first chunk when the client does
    /// not report. Fast: once it is all sent (nobody listens in real time).
    pub fn finish_if_played(&mut self, now_ms: u64) -> Option<u64> {
        let speaking = self.current.as_ref()?;
        let played = speaking.synthesis_done
            && (speaking.client_finished
                || speaking.play_start_ms.is_none()
                || self.deadline_ms().is_none_or(|end| now_ms >= end));
        if played {
            self.current.take().map(|s| s.reply_id)
        } else {
            None
        }
    }

    /// Stop the current reply (barge-in, hang-up): where it was cut, by what the caller has heard by
    /// `now_ms`.
    pub fn stop(&mut self, now_ms: u64) -> Option<Cut> {
        let speaking = self.current.take()?;
        let heard_ms = speaking.play_start_ms.map_or(0, |start| now_ms.saturating_sub(start));
        let from = match speaking.spans.iter().position(|span| span.end_ms > heard_ms) {
            // Cut inside a sentence: say it again from its start.
            Some(0) => 0,
            Some(i) => speaking.spans[i - 1].text_end,
            // Everything sent was heard: resume after it, unless there is nothing more to come.
            None if speaking.synthesis_done => speaking.text.len(),
            None => speaking.spans.last().map_or(0, |span| span.text_end),
        };
        let remaining = speaking.text.get(from..).unwrap_or_default().trim().to_string();
        Some(Cut { reply_id: speaking.reply_id, remaining })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Thank you for calling. Your balance is $42.50. Anything else?";

    /// `ms` of mu-law at 8 kHz: 8 bytes a millisecond.
    fn audio(ms: usize) -> Vec<u8> {
        vec![0xff; ms * 8]
    }

    /// A reply of three one-second sentences at 8 kHz mu-law, all sent at call time 1000 ms.
    fn speaking_three_sentences(pacing: Pacing) -> (Playback, Vec<Chunk>) {
        let mut playback = Playback::new(Encoding::Mulaw, 8_000, pacing);
        playback.start(7, TEXT);
        let mut chunks = Vec::new();
        for sentence in ["Thank you for calling.", "Your balance is $42.50.", "Anything else?"] {
            chunks.extend(playback.sentence(7, sentence, audio(1_000), 1_000));
        }
        chunks.extend(playback.synthesis_done(7, 1_000));
        (playback, chunks)
    }

    #[test]
    fn audio_goes_out_in_160_ms_chunks_numbered_in_order_with_the_last_marked() {
        let (_, chunks) = speaking_three_sentences(Pacing::Realtime);
        let total: usize = chunks.iter().map(|c| c.audio.len()).sum();
        assert_eq!(total, 3_000 * 8);
        assert!(chunks[..chunks.len() - 1].iter().all(|c| c.audio.len() == 160 * 8 && !c.last));
        assert!(chunks.last().expect("chunks").last);
        assert!(chunks.iter().enumerate().all(|(i, c)| c.seq == i as u64));
    }

    #[test]
    fn in_real_time_a_reply_plays_for_its_duration_unless_the_client_reports_sooner() {
        let (mut playback, _) = speaking_three_sentences(Pacing::Realtime);
        assert_eq!(playback.deadline_ms(), Some(4_000));
        assert_eq!(playback.finish_if_played(3_999), None);
        assert_eq!(playback.finish_if_played(4_000), Some(7));
        assert_eq!(playback.current_id(), None);

        let (mut reported, _) = speaking_three_sentences(Pacing::Realtime);
        reported.client_finished(7);
        assert_eq!(reported.finish_if_played(1_500), Some(7));
    }

    #[test]
    fn a_report_before_the_last_chunk_is_not_the_end() {
        let mut playback = Playback::new(Encoding::Mulaw, 8_000, Pacing::Realtime);
        playback.start(1, TEXT);
        playback.sentence(1, "Thank you for calling.", audio(1_000), 0);
        playback.client_finished(1);
        assert_eq!(playback.finish_if_played(100_000), None);
    }

    #[test]
    fn a_fast_client_has_heard_a_reply_once_it_is_all_sent() {
        let (mut playback, _) = speaking_three_sentences(Pacing::Fast);
        assert_eq!(playback.deadline_ms(), None);
        assert_eq!(playback.finish_if_played(1_000), Some(7));
    }

    #[test]
    fn a_barge_in_resumes_from_the_sentence_being_played() {
        for (heard_ms, remaining) in
            [(500, TEXT), (1_200, "Your balance is $42.50. Anything else?"), (2_999, "Anything else?"), (3_500, "")]
        {
            let (mut playback, _) = speaking_three_sentences(Pacing::Realtime);
            let cut = playback.stop(1_000 + heard_ms).expect("a reply was playing");
            assert_eq!(cut, Cut { reply_id: 7, remaining: remaining.into() }, "at {heard_ms} ms");
            assert_eq!(playback.current_id(), None);
        }
    }

    #[test]
    fn a_barge_in_before_later_sentences_were_made_keeps_their_text() {
        let mut playback = Playback::new(Encoding::Mulaw, 8_000, Pacing::Realtime);
        playback.start(2, TEXT);
        playback.sentence(2, "Thank you for calling.", audio(1_000), 0);
        // Heard all of the first sentence; the rest was not synthesised yet.
        let cut = playback.stop(1_500).expect("playing");
        assert_eq!(cut.remaining, "Your balance is $42.50. Anything else?");
        // Stopped before any audio went out: all of it remains.
        playback.start(3, TEXT);
        assert_eq!(playback.stop(5_000).expect("playing").remaining, TEXT);
    }

    #[test]
    fn sentences_are_resampled_and_encoded_for_the_line_after_their_pause() {
        let voice: Vec<f32> = (0..22_050).map(|i| 0.5 * (i as f32 * 0.05).sin()).collect();
        let line = for_the_line(&voice, 22_050, 8_000, Encoding::S16le, 200).expect("convert");
        assert!((line.len() as i64 - 2 * (1_600 + 8_000)).abs() <= 8, "{} bytes", line.len());
        assert!(line[..3_200].iter().all(|&b| b == 0), "the pause is silent");
        assert!(line[3_200..].iter().any(|&b| b != 0));
    }
}

//! Checks on what the client sends inside a call. The service checks a message's shape; these are the
//! checks only the call can make: chunk sizes against the call's encoding and rate, and audio arriving
//! faster than a phone line can carry it.

use crate::audio::Encoding;

use super::{ErrorCode, Pacing};

/// The longest audio chunk taken, in ms: platforms send 20 ms frames; a second is already a lot of
/// audio for one message, and more would delay voice detection and barge-in by as much.
pub const MAX_CHUNK_MS: u64 = 1_000;

/// How far ahead of the clock a real-time client's audio may run, in ms. A phone line is never ahead of
/// the clock by more than its jitter buffer (a few hundred ms); two seconds also lets a client catch up
/// after a network stall, and still stops a file streamed at full speed within two seconds.
pub const MAX_AHEAD_MS: u64 = 2_000;

/// Why a chunk of audio was refused (the call goes on without it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioRejected {
    #[error(
        "audio chunk {chunk} is {ms} ms long; chunks may be at most {MAX_CHUNK_MS} ms (send 20 ms frames); it was dropped"
    )]
    TooLong { chunk: u64, ms: u64 },
    #[error(
        "audio chunk {chunk} has {bytes} bytes, an odd number, but linear 16-bit audio has two bytes a sample; it \
         was dropped (check the set-up's encoding: mu-law and A-law use one byte a sample)"
    )]
    OddLength { chunk: u64, bytes: usize },
    #[error(
        "audio chunk {chunk} would put the call's audio {ahead_ms} ms ahead of the clock (at most {MAX_AHEAD_MS} ms); \
         send audio in real time, or open the call with fast pacing for recorded audio; it was dropped"
    )]
    TooFast { chunk: u64, ahead_ms: u64 },
}

impl AudioRejected {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::TooFast { .. } => ErrorCode::TooFast,
            Self::TooLong { .. } | Self::OddLength { .. } => ErrorCode::InvalidInput,
        }
    }
}

/// The caller's audio as the call accepts it, chunk by chunk.
#[derive(Debug)]
pub struct AudioGate {
    encoding: Encoding,
    rate: u32,
    pacing: Pacing,
    chunks: u64,
    accepted_samples: u64,
    /// In a flood, only its first refused chunk is reported, so the client is not flooded in return.
    flooding: bool,
}

impl AudioGate {
    pub fn new(encoding: Encoding, rate: u32, pacing: Pacing) -> Self {
        Self { encoding, rate, pacing, chunks: 0, accepted_samples: 0, flooding: false }
    }

    /// Check one chunk arriving at call time `now_ms` and decode it. `Ok(None)`: dropped quietly (more of
    /// a flood already reported).
    pub fn admit(&mut self, bytes: &[u8], now_ms: u64) -> Result<Option<Vec<f32>>, AudioRejected> {
        self.chunks += 1;
        let chunk = self.chunks;
        let samples = (bytes.len() / self.encoding.bytes_per_sample()) as u64;
        if samples * 1000 > MAX_CHUNK_MS * u64::from(self.rate) {
            return Err(AudioRejected::TooLong { chunk, ms: (samples * 1000).div_ceil(u64::from(self.rate)) });
        }
        if self.encoding == Encoding::S16le && !bytes.len().is_multiple_of(2) {
            return Err(AudioRejected::OddLength { chunk, bytes: bytes.len() });
        }
        if self.pacing == Pacing::Realtime {
            let audio_end_ms = (self.accepted_samples + samples) * 1000 / u64::from(self.rate);
            let ahead_ms = audio_end_ms.saturating_sub(now_ms);
            if ahead_ms > MAX_AHEAD_MS {
                let first = !std::mem::replace(&mut self.flooding, true);
                return if first { Err(AudioRejected::TooFast { chunk, ahead_ms }) } else { Ok(None) };
            }
            self.flooding = false;
        }
        // The length was checked above, so decoding cannot fail; say so rather than panic if it ever did.
        let decoded =
            self.encoding.decode(bytes).map_err(|_| AudioRejected::OddLength { chunk, bytes: bytes.len() })?;
        self.accepted_samples += samples;
        Ok(Some(decoded))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_over_a_second_or_of_odd_length_are_refused_and_named() {
        let mut gate = AudioGate::new(Encoding::S16le, 8_000, Pacing::Fast);
        let error = gate.admit(&vec![0; 2 * 8_001], 0).expect_err("over a second");
        assert_eq!(error, AudioRejected::TooLong { chunk: 1, ms: 1_001 });
        let error = gate.admit(&vec![0; 2 * 9_000], 0).expect_err("over a second");
        assert!(matches!(error, AudioRejected::TooLong { chunk: 2, ms: 1_125 }), "{error:?}");
        assert_eq!(error.code(), ErrorCode::InvalidInput);
        let error = gate.admit(&[0; 321], 0).expect_err("odd");
        assert_eq!(error, AudioRejected::OddLength { chunk: 3, bytes: 321 });
        assert!(error.to_string().contains("chunk 3") && error.to_string().contains("one byte a sample"), "{error}");
        assert_eq!(gate.admit(&[0; 320], 0).expect("a 20 ms frame").expect("kept").len(), 160);
        let mut mulaw = AudioGate::new(Encoding::Mulaw, 8_000, Pacing::Fast);
        assert_eq!(mulaw.admit(&[0xff; 161], 0).expect("odd is fine for mu-law").expect("kept").len(), 161);
    }

    #[test]
    fn real_time_audio_may_not_run_more_than_two_seconds_ahead() {
        let mut gate = AudioGate::new(Encoding::Mulaw, 8_000, Pacing::Realtime);
        let frame = [0xffu8; 160];
        // 2 s of audio at call time 0 is within the allowance; the next frame is not.
        for _ in 0..100 {
            gate.admit(&frame, 0).expect("within the allowance").expect("kept");
        }
        let error = gate.admit(&frame, 0).expect_err("too fast");
        assert_eq!(error, AudioRejected::TooFast { chunk: 101, ahead_ms: 2_020 });
        assert_eq!(error.code(), ErrorCode::TooFast);
        assert_eq!(gate.admit(&frame, 0).expect("reported once"), None, "the rest of the flood is dropped quietly");
        // Time catches up: audio is taken again, and a new flood is reported again.
        for _ in 0..5 {
            assert!(gate.admit(&frame, 100).expect("in time").is_some());
        }
        assert!(matches!(gate.admit(&frame, 100), Err(AudioRejected::TooFast { chunk: 108, .. })));
    }

    #[test]
    fn fast_pacing_takes_audio_as_fast_as_it_comes() {
        let mut gate = AudioGate::new(Encoding::Alaw, 8_000, Pacing::Fast);
        for _ in 0..1_000 {
            gate.admit(&[0xd5; 160], 0).expect("fast").expect("kept");
        }
    }
}

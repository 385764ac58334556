//! 20 ms framing: the unit telephony platforms send and Helpline streams back.

/// One frame is 20 ms, the packetisation interval of RTP telephony (160 samples at 8 kHz).
pub const FRAME_MS: u32 = 20;

/// Samples in one frame at `sample_rate`.
pub fn frame_len(sample_rate: u32) -> usize {
    (sample_rate * FRAME_MS / 1000) as usize
}

/// Split samples into 20 ms frames; the last frame is padded with silence so every frame is whole.
pub fn frames(samples: &[f32], sample_rate: u32) -> impl Iterator<Item = Vec<f32>> + '_ {
    let len = frame_len(sample_rate).max(1);
    samples.chunks(len).map(move |chunk| {
        let mut frame = chunk.to_vec();
        frame.resize(len, 0.0);
        frame
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_twenty_milliseconds_and_the_last_is_padded() {
        assert_eq!(frame_len(8000), 160);
        assert_eq!(frame_len(16_000), 320);
        let samples = vec![0.1f32; 400];
        let all: Vec<_> = frames(&samples, 8000).collect();
        assert_eq!(all.len(), 3);
        assert!(all.iter().all(|f| f.len() == 160));
        assert_eq!(all[2][79], 0.1);
        assert_eq!(all[2][80], 0.0);
    }
}

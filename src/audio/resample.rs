//! Sample-rate conversion with `rubato`'s FFT resampler.
//!
//! Telephone audio arrives at 8 kHz, Whisper wants 16 kHz, the Piper voice speaks at 22,050 Hz and the
//! line wants 8 kHz back. The FFT resampler is exact for these fixed integer ratios and band-limits the
//! signal, so downsampling does not alias (a hand-written interpolator would).

use rubato::{FftFixedIn, Resampler};

use super::AudioError;

/// Input chunk for the FFT resampler: ~1024 samples balances FFT cost and latency for whole buffers.
const CHUNK: usize = 1024;

/// Resample a whole mono buffer, keeping its duration and timing (the resampler's delay is removed).
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    if from == 0 || to == 0 {
        return Err(AudioError::BadRate { rate: from.min(to), hint: "a sample rate must be above zero" });
    }
    let fail = |e: &dyn std::fmt::Display| AudioError::Resample { from, to, reason: e.to_string() };
    let mut resampler = FftFixedIn::<f32>::new(from as usize, to as usize, CHUNK, 2, 1).map_err(|e| fail(&e))?;
    let expected = (samples.len() as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize;
    let delay = resampler.output_delay();
    let mut out = Vec::with_capacity(expected + delay + CHUNK * 4);
    let mut buffer = resampler.output_buffer_allocate(true);
    let mut chunks = samples.chunks_exact(CHUNK);
    for chunk in chunks.by_ref() {
        let (_, written) = resampler.process_into_buffer(&[chunk], &mut buffer, None).map_err(|e| fail(&e))?;
        out.extend_from_slice(&buffer[0][..written]);
    }
    let rest = chunks.remainder();
    // rubato reads an empty final chunk as "no channels", so pass none at all when nothing is left.
    if !rest.is_empty() {
        let (_, written) =
            resampler.process_partial_into_buffer(Some(&[rest]), &mut buffer, None).map_err(|e| fail(&e))?;
        out.extend_from_slice(&buffer[0][..written]);
    }
    // Flush the delay line until the whole signal is out.
    while out.len() < expected + delay {
        let (_, written) =
            resampler.process_partial_into_buffer(None::<&[&[f32]]>, &mut buffer, None).map_err(|e| fail(&e))?;
        if written == 0 {
            break;
        }
        out.extend_from_slice(&buffer[0][..written]);
    }
    let end = (delay + expected).min(out.len());
    Ok(out[delay.min(end)..end].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::tones::{measured_frequency, sine};

    #[test]
    fn a_resampled_sine_keeps_its_frequency_and_duration() {
        for (from, to) in [(8000, 16_000), (16_000, 8000), (22_050, 8000), (44_100, 16_000), (8000, 22_050)] {
            let input = sine(440.0, from, 1.0);
            let output = resample(&input, from, to).expect("resample");
            let expected_len = (input.len() as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize;
            assert_eq!(output.len(), expected_len, "{from}->{to}");
            let freq = measured_frequency(&output, to);
            assert!((freq - 440.0).abs() < 3.0, "{from}->{to}: measured {freq} Hz");
            let peak = output[output.len() / 4..output.len() * 3 / 4].iter().fold(0.0f32, |m, s| m.max(s.abs()));
            assert!((peak - 0.5).abs() < 0.03, "{from}->{to}: amplitude {peak}");
        }
    }

    #[test]
    fn downsampling_removes_frequencies_the_new_rate_cannot_carry() {
        // 6 kHz cannot exist at 8 kHz; without a low-pass it would alias to 2 kHz at full strength.
        let output = resample(&sine(6000.0, 16_000, 0.5), 16_000, 8000).expect("resample");
        let rms = (output.iter().map(|s| s * s).sum::<f32>() / output.len() as f32).sqrt();
        assert!(rms < 0.02, "aliased energy {rms}");
    }

    #[test]
    fn a_buffer_of_whole_chunks_resamples() {
        let input = sine(440.0, 22_050, 1024.0 * 104.0 / 22_050.0);
        assert_eq!(input.len(), 1024 * 104);
        let output = resample(&input, 22_050, 16_000).expect("resample");
        assert_eq!(output.len(), (input.len() as u64 * 16_000).div_ceil(22_050) as usize);
    }

    #[test]
    fn a_zero_rate_is_an_error_not_a_panic() {
        assert!(resample(&[0.1; 10], 0, 8000).is_err());
    }
}

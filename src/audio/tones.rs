//! Test signals: a pure tone, and its frequency measured back, for tests of resampling and conversion.

/// A sine of `freq` Hz at half scale, `seconds` long at `rate`.
pub fn sine(freq: f32, rate: u32, seconds: f32) -> Vec<f32> {
    (0..(rate as f32 * seconds) as usize)
        .map(|i| (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin() * 0.5)
        .collect()
}

/// Frequency from the zero crossings of the middle of the signal (ends carry filter transients).
pub fn measured_frequency(samples: &[f32], rate: u32) -> f32 {
    let middle = &samples[samples.len() / 4..samples.len() * 3 / 4];
    let crossings = middle.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
    crossings as f32 * rate as f32 / middle.len() as f32
}

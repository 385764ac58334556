//! WAV files in and out, through `hound`.
//!
//! Reading accepts what recorders and telephony platforms produce: any sample rate, 8/16/24/32-bit integer
//! or 32-bit float samples, any channel count (mixed down to mono by averaging, which keeps a caller on
//! one channel of a stereo call recording audible). Writing produces 16-bit PCM, 8-bit G.711 µ-law or
//! A-law (WAVE format tags 7 and 6, which `hound` cannot write, so those headers are written here).

use std::io::Write;
use std::path::Path;

use super::{Audio, AudioError, Encoding};

/// Read a WAV file into mono audio at its own sample rate.
pub fn read(path: &Path) -> Result<Audio, AudioError> {
    let bytes = std::fs::read(path).map_err(|source| AudioError::Io { path: path.into(), source })?;
    if bytes.is_empty() {
        return Err(AudioError::BadWav { path: path.into(), reason: "the file is empty".into() });
    }
    if let Some(audio) = read_g711(path, &bytes)? {
        return Ok(audio);
    }
    let bad = |e: hound::Error| AudioError::BadWav { path: path.into(), reason: e.to_string() };
    let mut reader = hound::WavReader::new(std::io::Cursor::new(&bytes)).map_err(bad)?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let interleaved: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => reader.samples::<f32>().collect::<Result<_, _>>().map_err(bad)?,
        (hound::SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(bad)?
        }
        (format, bits) => {
            return Err(AudioError::UnsupportedFormat { path: path.into(), format: format!("{bits}-bit {format:?}") })
        }
    };
    let audio = Audio::new(mix_down(&interleaved, channels), spec.sample_rate);
    if audio.samples.is_empty() {
        return Err(AudioError::Empty { path: path.into() });
    }
    Ok(audio)
}

fn mix_down(interleaved: &[f32], channels: usize) -> Vec<f32> {
    if channels == 1 {
        return interleaved.to_vec();
    }
    interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() / channels as f32)
        .collect()
}

/// `hound` reads only PCM and float WAVs; G.711 WAVs (format 6 = A-law, 7 = µ-law) are common from
/// telephony systems, so their simple chunk layout is parsed here. Returns `None` for any other format.
fn read_g711(path: &Path, bytes: &[u8]) -> Result<Option<Audio>, AudioError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Ok(None);
    }
    let mut pos = 12;
    let mut format: Option<(u16, u16, u32)> = None;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32::from_le_bytes([bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]]) as usize;
        let body = &bytes[pos + 8..bytes.len().min(pos + 8 + size)];
        match id {
            b"fmt " if body.len() >= 16 => {
                let tag = u16::from_le_bytes([body[0], body[1]]);
                let channels = u16::from_le_bytes([body[2], body[3]]);
                let rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
                if tag != 6 && tag != 7 {
                    return Ok(None);
                }
                format = Some((tag, channels.max(1), rate));
            }
            b"data" => {
                let Some((tag, channels, rate)) = format else {
                    return Ok(None);
                };
                let encoding = if tag == 7 { Encoding::Mulaw } else { Encoding::Alaw };
                let samples = mix_down(&encoding.decode(body)?, usize::from(channels));
                if samples.is_empty() {
                    return Err(AudioError::Empty { path: path.into() });
                }
                return Ok(Some(Audio::new(samples, rate)));
            }
            _ => {}
        }
        pos += 8 + size + (size & 1);
    }
    Ok(None)
}

/// Write mono audio as a WAV file in the given encoding.
pub fn write(path: &Path, audio: &Audio, encoding: Encoding) -> Result<(), AudioError> {
    let bytes = encode(audio, encoding);
    std::fs::write(path, bytes).map_err(|e| AudioError::Write { path: path.into(), reason: e.to_string() })
}

/// A whole WAV file in memory.
pub fn encode(audio: &Audio, encoding: Encoding) -> Vec<u8> {
    let data = encoding.encode(&audio.samples);
    let (tag, bits): (u16, u16) = match encoding {
        Encoding::S16le => (1, 16),
        Encoding::Alaw => (6, 8),
        Encoding::Mulaw => (7, 8),
    };
    let block_align = bits / 8;
    let mut out = Vec::with_capacity(44 + data.len());
    let mut put = |b: &[u8]| out.write_all(b).expect("writing to a Vec cannot fail");
    put(b"RIFF");
    put(&(36 + data.len() as u32).to_le_bytes());
    put(b"WAVEfmt ");
    put(&16u32.to_le_bytes());
    put(&tag.to_le_bytes());
    put(&1u16.to_le_bytes());
    put(&audio.sample_rate.to_le_bytes());
    put(&(audio.sample_rate * u32::from(block_align)).to_le_bytes());
    put(&block_align.to_le_bytes());
    put(&bits.to_le_bytes());
    put(b"data");
    put(&(data.len() as u32).to_le_bytes());
    put(&data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("helpline-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir.join(name)
    }

    fn tone(rate: u32) -> Audio {
        Audio::new((0..rate / 10).map(|i| 0.5 * (i as f32 * 0.05).sin()).collect(), rate)
    }

    #[test]
    fn every_written_encoding_reads_back_as_the_same_sound() {
        let audio = tone(8000);
        for encoding in [Encoding::S16le, Encoding::Mulaw, Encoding::Alaw] {
            let path = temp(&format!("tone-{encoding:?}.wav"));
            write(&path, &audio, encoding).expect("write");
            let back = read(&path).expect("read");
            assert_eq!(back.sample_rate, 8000);
            assert_eq!(back.samples.len(), audio.samples.len());
            let worst = audio.samples.iter().zip(&back.samples).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(worst < 0.02, "{encoding:?}: worst error {worst}");
        }
    }

    #[test]
    fn reads_24_bit_float_and_stereo_files_mixed_to_mono() {
        for (bits, format) in
            [(24u16, hound::SampleFormat::Int), (32, hound::SampleFormat::Float), (8, hound::SampleFormat::Int)]
        {
            let path = temp(&format!("stereo-{bits}.wav"));
            let spec =
                hound::WavSpec { channels: 2, sample_rate: 44_100, bits_per_sample: bits, sample_format: format };
            let mut w = hound::WavWriter::create(&path, spec).expect("create");
            for _ in 0..100 {
                match format {
                    hound::SampleFormat::Float => {
                        w.write_sample(0.5f32).unwrap();
                        w.write_sample(0.0f32).unwrap();
                    }
                    hound::SampleFormat::Int => {
                        let half = 1i32 << (bits - 2);
                        w.write_sample(half).unwrap();
                        w.write_sample(0i32).unwrap();
                    }
                }
            }
            w.finalize().unwrap();
            let audio = read(&path).expect("read");
            assert_eq!((audio.sample_rate, audio.samples.len()), (44_100, 100));
            assert!((audio.samples[50] - 0.25).abs() < 1e-3, "{bits}-bit: {}", audio.samples[50]);
        }
    }

    #[test]
    fn corrupt_truncated_and_empty_files_are_clear_errors() {
        let empty = temp("empty.wav");
        std::fs::write(&empty, b"").unwrap();
        let err = read(&empty).unwrap_err().to_string();
        assert!(err.contains("empty.wav") && err.contains("empty"), "{err}");

        let garbage = temp("garbage.wav");
        std::fs::write(&garbage, b"this is not audio at all, just text").unwrap();
        let err = read(&garbage).unwrap_err().to_string();
        assert!(err.contains("garbage.wav") && err.contains("not a readable WAV"), "{err}");

        let truncated = temp("truncated.wav");
        let whole = encode(&tone(16_000), Encoding::S16le);
        std::fs::write(&truncated, &whole[..30]).unwrap();
        assert!(read(&truncated).unwrap_err().to_string().contains("truncated.wav"));

        let zero = temp("zero.wav");
        std::fs::write(&zero, encode(&Audio::new(vec![], 16_000), Encoding::S16le)).unwrap();
        let err = read(&zero).unwrap_err().to_string();
        assert!(err.contains("zero samples"), "{err}");

        let missing = read(Path::new("/nonexistent/call.wav")).unwrap_err().to_string();
        assert!(missing.contains("/nonexistent/call.wav"), "{missing}");
    }
}

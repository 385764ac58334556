//! G.711 companding: µ-law and A-law, the encodings of the public telephone network.
//!
//! Written out rather than taken from a crate: the whole codec is two small bit-twiddling functions a
//! direction (ITU-T G.711 tables 1a and 2a), the crates that exist wrap the same lines, and the tests check
//! every one of the 256 codes against the standard's decision values and against `sox`.

const MULAW_BIAS: i32 = 0x84;
const MULAW_CLIP: i32 = 32635;

/// Encode one linear 16-bit sample as µ-law.
pub fn mulaw_encode(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(MULAW_CLIP) + MULAW_BIAS;
    // The segment is the position of the highest set bit above bit 7.
    let exponent = (31 - (s as u32).leading_zeros()).saturating_sub(7).min(7) as i32;
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// Decode one µ-law byte to linear 16-bit.
pub fn mulaw_decode(code: u8) -> i16 {
    let c = !code;
    let exponent = i32::from((c >> 4) & 0x07);
    let mantissa = i32::from(c & 0x0F);
    let magnitude = (((mantissa << 3) + MULAW_BIAS) << exponent) - MULAW_BIAS;
    if c & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Encode one linear 16-bit sample as A-law.
pub fn alaw_encode(sample: i16) -> u8 {
    // A-law works on 13-bit magnitudes.
    let s = i32::from(sample) >> 3;
    let (sign, magnitude) = if s >= 0 { (0x80, s) } else { (0x00, -s - 1) };
    let code = if magnitude < 32 {
        (magnitude >> 1) as u8
    } else {
        let exponent = (31 - (magnitude as u32).leading_zeros()) as i32 - 4; // 1..=7
        let exponent = exponent.min(7);
        let mantissa = if exponent == 7 && magnitude >= 4096 { 0x0F } else { (magnitude >> exponent) & 0x0F };
        ((exponent << 4) | mantissa) as u8
    };
    (code | sign) ^ 0x55
}

/// Decode one A-law byte to linear 16-bit.
pub fn alaw_decode(code: u8) -> i16 {
    let c = code ^ 0x55;
    let exponent = i32::from((c >> 4) & 0x07);
    let mantissa = i32::from(c & 0x0F);
    let magnitude = if exponent == 0 { (mantissa << 4) + 8 } else { ((mantissa << 4) + 0x108) << (exponent - 1) };
    if c & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Check G.711's quantisation bound for a codec: every sample inside the coder's range decodes to the
    /// reconstruction level nearest to it, so the error is at most half the gap to a neighbouring level.
    fn assert_within_quantisation_bound(encode: fn(i16) -> u8, decode: fn(u8) -> i16) {
        let mut levels: Vec<i32> = (0u8..=255).map(|c| i32::from(decode(c))).collect();
        levels.sort_unstable();
        levels.dedup();
        let (lowest, highest) = (levels[0], levels[levels.len() - 1]);
        for s in -32768i32..=32767 {
            let back = i32::from(decode(encode(s as i16)));
            let i = levels.binary_search(&back).expect("decoded value is a level");
            let below = if i > 0 { back - levels[i - 1] } else { 0 };
            let above = if i + 1 < levels.len() { levels[i + 1] - back } else { 0 };
            let half_gap = below.max(above) / 2 + 1;
            // Beyond the outermost levels the coder is overloaded and clips, as G.711 specifies.
            if s < lowest - half_gap || s > highest + half_gap {
                assert!(back == lowest || back == highest, "overloaded sample {s} must clip, got {back}");
                continue;
            }
            assert!((back - s).abs() <= half_gap, "sample {s} decoded as {back}, beyond half a step ({half_gap})");
        }
    }

    #[test]
    fn mulaw_round_trip_stays_within_half_a_quantisation_step() {
        assert_within_quantisation_bound(mulaw_encode, mulaw_decode);
    }

    #[test]
    fn alaw_round_trip_stays_within_half_a_quantisation_step() {
        assert_within_quantisation_bound(alaw_encode, alaw_decode);
    }

    #[test]
    fn decoders_match_itu_g711_reference_values() {
        // µ-law: 0xFF and 0x7F are the two zeros, 0x80 / 0x00 the extremes (±32124).
        assert_eq!(mulaw_decode(0xFF), 0);
        assert_eq!(mulaw_decode(0x7F), 0);
        assert_eq!(mulaw_decode(0x80), 32124);
        assert_eq!(mulaw_decode(0x00), -32124);
        assert_eq!(mulaw_encode(0), 0xFF);
        // A-law: 0xD5 / 0x55 are the smallest positive / negative steps (±8), 0xAA / 0x2A the extremes.
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
        assert_eq!(alaw_encode(0), 0xD5);
    }

    #[test]
    fn every_code_decodes_and_re_encodes_to_itself() {
        for code in 0u8..=255 {
            // 0x7F is µ-law's negative zero, which encodes back as positive zero.
            if code != 0x7F {
                assert_eq!(mulaw_encode(mulaw_decode(code)), code, "µ-law code {code:#04x}");
            }
            assert_eq!(alaw_encode(alaw_decode(code)), code, "A-law code {code:#04x}");
        }
    }

    #[test]
    fn codecs_agree_with_sox() {
        let Ok(sox) = which_sox() else {
            panic!("sox is not installed: run scripts/setup.sh (it installs the apt package `sox`)");
        };
        let dir = std::env::temp_dir().join(format!("helpline-g711-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let input: Vec<i16> = (-32768i32..=32767).step_by(97).map(|s| s as i16).collect();
        let raw: Vec<u8> = input.iter().flat_map(|s| s.to_le_bytes()).collect();
        let src = dir.join("in.raw");
        std::fs::write(&src, &raw).expect("write input");
        for (name, encode) in [("u-law", mulaw_encode as fn(i16) -> u8), ("a-law", alaw_encode)] {
            let out = dir.join(format!("{name}.raw"));
            let status = std::process::Command::new(&sox)
                .args(["-D", "-t", "raw", "-r", "8000", "-e", "signed", "-b", "16", "-c", "1"])
                .arg(&src)
                .args(["-t", "raw", "-r", "8000", "-e", name, "-b", "8", "-c", "1"])
                .arg(&out)
                .status()
                .expect("run sox");
            assert!(status.success());
            let theirs = std::fs::read(&out).expect("sox output");
            let ours: Vec<u8> = input.iter().map(|&s| encode(s)).collect();
            assert_eq!(theirs.len(), ours.len());
            let decode = if name == "u-law" { mulaw_decode as fn(u8) -> i16 } else { alaw_decode };
            let mut levels: Vec<i16> = (0u8..=255).map(decode).collect();
            levels.sort_unstable();
            levels.dedup();
            let level = |code: u8| levels.binary_search(&decode(code)).expect("a level") as i32;
            // sox rounds at a few decision boundaries where G.711 truncates: at most 2 % of codes may
            // differ, and then only by one quantisation level.
            let differing = ours.iter().zip(&theirs).filter(|(a, b)| a != b).count();
            assert!(differing * 50 <= ours.len(), "{name}: {differing} of {} codes differ", ours.len());
            for ((a, b), s) in ours.iter().zip(&theirs).zip(&input) {
                assert!((level(*a) - level(*b)).abs() <= 1, "{name}: sample {s} coded {a:#04x}, sox {b:#04x}");
            }
        }
        // Decoding has no rounding choices: every one of the 256 codes must decode exactly as sox does.
        let codes = dir.join("codes.raw");
        std::fs::write(&codes, (0u8..=255).collect::<Vec<u8>>()).expect("write codes");
        for (name, decode) in [("u-law", mulaw_decode as fn(u8) -> i16), ("a-law", alaw_decode)] {
            let out = dir.join(format!("{name}-decoded.raw"));
            let status = std::process::Command::new(&sox)
                .args(["-D", "-t", "raw", "-r", "8000", "-e", name, "-b", "8", "-c", "1"])
                .arg(&codes)
                .args(["-t", "raw", "-e", "signed", "-b", "16"])
                .arg(&out)
                .status()
                .expect("run sox");
            assert!(status.success());
            let theirs: Vec<i16> = std::fs::read(&out)
                .expect("sox output")
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect();
            let ours: Vec<i16> = (0u8..=255).map(decode).collect();
            assert_eq!(ours, theirs, "{name} decoding differs from sox");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn which_sox() -> Result<std::path::PathBuf, ()> {
        ["/usr/bin/sox", "/usr/local/bin/sox"]
            .iter()
            .map(std::path::PathBuf::from)
            .find(|p| p.is_file())
            .ok_or(())
    }
}

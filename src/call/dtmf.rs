//! Keypad digits (DTMF): checking them, and gathering them into one answer while the dialogue asks
//! for a digit string.
//!
//! Outside a digit slot every key press goes to the dialogue as it comes ("press 0 for an agent").
//! While the session collects a digit string ([`DigitSpec`]), keys are gathered and the answer ends at
//! once on `#`, when the most digits expected have arrived, or after [`INTER_DIGIT_TIMEOUT_MS`] without
//! a key, so a caller who keys the number in never waits for speech endpointing.

use crate::dialogue::DigitSpec;

/// A pause this long after the last key ends a keyed answer that has no `#`. Three seconds: about the
/// time a caller takes to find the next digit on a card, and the inter-digit timeout IVR platforms
/// commonly default to.
pub const INTER_DIGIT_TIMEOUT_MS: u64 = 3_000;

/// The key that ends a keyed answer.
const END_KEY: char = '#';

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DtmfError {
    #[error("DTMF input {keys:?} holds {key:?}, which is not a keypad key; send only 0-9, *, # and A-D")]
    NotAKey { keys: String, key: char },
    #[error("DTMF input is empty; send at least one key (0-9, *, # or A-D)")]
    Empty,
}

/// Check keys and bring them to their canonical form (upper-case A-D).
pub fn parse_keys(keys: &str) -> Result<String, DtmfError> {
    if keys.is_empty() {
        return Err(DtmfError::Empty);
    }
    keys.chars()
        .map(|key| match key.to_ascii_uppercase() {
            k @ ('0'..='9' | '*' | '#' | 'A'..='D') => Ok(k),
            _ => Err(DtmfError::NotAKey { keys: keys.to_string(), key }),
        })
        .collect()
}

/// Gathers key presses into answers for the dialogue.
#[derive(Debug, Default)]
pub struct DigitCollector {
    slot: Option<DigitSpec>,
    keys: String,
    /// Call time (ms) of the last key gathered, while an answer is open.
    last_key_ms: Option<u64>,
}

impl DigitCollector {
    pub fn new() -> Self {
        Self::default()
    }

    /// What the session expects now (after each turn). Keys gathered for an earlier slot are kept:
    /// they still answer it when they complete.
    pub fn expect(&mut self, slot: Option<DigitSpec>) {
        self.slot = slot;
    }

    pub fn in_digit_slot(&self) -> bool {
        self.slot.is_some()
    }

    /// Keys are gathered and not yet handed on.
    pub fn is_gathering(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Take key presses at call time `now_ms`; returns the answers ready for the dialogue, in order.
    pub fn press(&mut self, keys: &str, now_ms: u64) -> Result<Vec<String>, DtmfError> {
        let keys = parse_keys(keys)?;
        let Some(slot) = self.slot else {
            return Ok(vec![keys]);
        };
        let mut answers = Vec::new();
        for key in keys.chars() {
            if key == END_KEY {
                // A lone `#` ends nothing: there is no answer to hand on.
                answers.extend(self.take());
                continue;
            }
            self.keys.push(key);
            self.last_key_ms = Some(now_ms);
            // A max of 0 means "no known length": only `#` or the pause ends the answer.
            if slot.max > 0 && self.keys.len() >= slot.max {
                answers.extend(self.take());
            }
        }
        Ok(answers)
    }

    /// When the open answer times out (call time, ms), if one is open.
    pub fn deadline_ms(&self) -> Option<u64> {
        self.last_key_ms.map(|at| at + INTER_DIGIT_TIMEOUT_MS)
    }

    /// The open answer, if its pause has run out by `now_ms`.
    pub fn on_timer(&mut self, now_ms: u64) -> Option<String> {
        match self.deadline_ms() {
            Some(deadline) if now_ms >= deadline => self.take(),
            _ => None,
        }
    }

    /// Forget gathered keys (the call is wrapping up).
    pub fn clear(&mut self) {
        self.keys.clear();
        self.last_key_ms = None;
    }

    fn take(&mut self) -> Option<String> {
        self.last_key_ms = None;
        (!self.keys.is_empty()).then(|| std::mem::take(&mut self.keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn four_digits() -> DigitCollector {
        let mut collector = DigitCollector::new();
        collector.expect(Some(DigitSpec { min: 4, max: 4 }));
        collector
    }

    #[test]
    fn outside_a_digit_slot_keys_go_straight_to_the_dialogue() {
        let mut collector = DigitCollector::new();
        assert_eq!(collector.press("0", 10).expect("keys"), ["0"]);
        assert_eq!(collector.press("12#", 20).expect("keys"), ["12#"]);
        assert!(!collector.is_gathering());
        assert_eq!(collector.deadline_ms(), None);
    }

    #[test]
    fn the_answer_ends_when_the_expected_digits_have_arrived() {
        let mut collector = four_digits();
        assert!(collector.press("1", 0).expect("keys").is_empty());
        assert!(collector.press("23", 400).expect("keys").is_empty());
        assert_eq!(collector.deadline_ms(), Some(400 + INTER_DIGIT_TIMEOUT_MS));
        assert_eq!(collector.press("4", 900).expect("keys"), ["1234"]);
        assert!(!collector.is_gathering());
        assert_eq!(collector.deadline_ms(), None);
    }

    #[test]
    fn hash_ends_the_answer_at_once_and_a_lone_hash_is_nothing() {
        let mut collector = four_digits();
        assert_eq!(collector.press("12#", 0).expect("keys"), ["12"]);
        assert!(collector.press("#", 10).expect("keys").is_empty());
        let mut open_ended = DigitCollector::new();
        open_ended.expect(Some(DigitSpec { min: 1, max: 0 }));
        assert!(open_ended.press("987654", 0).expect("keys").is_empty());
        assert_eq!(open_ended.press("3#", 5).expect("keys"), ["9876543"]);
    }

    #[test]
    fn a_pause_after_the_last_key_ends_the_answer() {
        let mut collector = four_digits();
        collector.press("56", 1_000).expect("keys");
        assert_eq!(collector.on_timer(1_000 + INTER_DIGIT_TIMEOUT_MS - 1), None);
        assert_eq!(collector.on_timer(1_000 + INTER_DIGIT_TIMEOUT_MS), Some("56".into()));
        assert_eq!(collector.on_timer(10_000), None);
    }

    #[test]
    fn keys_after_a_complete_answer_start_the_next_one() {
        let mut collector = four_digits();
        assert_eq!(collector.press("123456", 0).expect("keys"), ["1234"]);
        assert!(collector.is_gathering());
        assert_eq!(collector.press("78", 10).expect("keys"), ["5678"]);
    }

    #[test]
    fn only_keypad_keys_are_accepted_and_the_error_names_the_bad_key() {
        assert_eq!(parse_keys("0123456789*#abcd").expect("keys"), "0123456789*#ABCD");
        let error = four_digits().press("12x4", 0).expect_err("x is no key");
        assert_eq!(error, DtmfError::NotAKey { keys: "12x4".into(), key: 'x' });
        assert!(error.to_string().contains("'x'") && error.to_string().contains("0-9, *, # and A-D"), "{error}");
        assert_eq!(parse_keys(""), Err(DtmfError::Empty));
    }
}

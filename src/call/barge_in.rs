//! Barge-in: when the caller's voice stops the assistant's, and when it was only a backchannel.
//!
//! The decision is taken on the voice detector's speech start, not after recognition, so the
//! assistant falls silent within a fraction of a second of the caller starting to talk. Whether the
//! caller meant to interrupt is only known once their words are: "mhm", "okay", "right" (or a cough
//! that transcribes to nothing) are a listener's signals, and the interrupted reply resumes from the
//! sentence that was cut. Replies that may not be interrupted (a legal notice, a question whose answer
//! must not overlap it) keep playing and the caller's speech during them is not heard.

/// Who holds the floor, as far as barge-in cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Floor {
    /// The assistant is silent.
    #[default]
    Listening,
    /// A reply is playing.
    Speaking { reply_id: u64, barge_in: bool },
    /// The caller talked over `reply_id`; it is stopped until their words are known.
    Interrupted { reply_id: u64 },
}

/// What to do when the caller starts to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSpeech {
    /// Nothing is playing (or it already stopped): just listen.
    Listen,
    /// Stop this reply now; nothing more of it is sent.
    Stop { reply_id: u64 },
    /// The reply playing may not be interrupted: what the caller says during it is not heard.
    Ignore { reply_id: u64 },
}

/// What the caller's words mean for an interrupted reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnWords {
    /// A turn for the dialogue (and whatever was interrupted is dropped).
    Turn,
    /// Only a backchannel or noise: resume `reply_id` from the sentence that was cut.
    Resume { reply_id: u64 },
}

/// The barge-in rules for one call.
#[derive(Debug, Default)]
pub struct BargeIn {
    floor: Floor,
}

impl BargeIn {
    pub fn new() -> Self {
        Self::default()
    }

    /// A reply started playing.
    pub fn speaking(&mut self, reply_id: u64, barge_in: bool) {
        self.floor = Floor::Speaking { reply_id, barge_in };
    }

    /// A reply has played to its end.
    pub fn finished(&mut self, reply_id: u64) {
        if matches!(self.floor, Floor::Speaking { reply_id: id, .. } if id == reply_id) {
            self.floor = Floor::Listening;
        }
    }

    /// The voice detector heard the caller start to speak.
    pub fn speech_started(&mut self) -> OnSpeech {
        match self.floor {
            Floor::Speaking { reply_id, barge_in: true } => {
                self.floor = Floor::Interrupted { reply_id };
                OnSpeech::Stop { reply_id }
            }
            Floor::Speaking { reply_id, barge_in: false } => OnSpeech::Ignore { reply_id },
            Floor::Listening | Floor::Interrupted { .. } => OnSpeech::Listen,
        }
    }

    /// The caller keyed or typed something while a reply played: that is an answer, never a
    /// backchannel. Returns the reply to stop, if one was playing and may be interrupted.
    pub fn answered(&mut self) -> Option<u64> {
        match self.floor {
            Floor::Speaking { reply_id, barge_in: true } => {
                self.floor = Floor::Listening;
                Some(reply_id)
            }
            Floor::Interrupted { .. } => {
                self.floor = Floor::Listening;
                None
            }
            _ => None,
        }
    }

    /// The words of the caller's utterance are known (empty: nothing but noise).
    pub fn heard(&mut self, words: &str) -> OnWords {
        match self.floor {
            Floor::Interrupted { reply_id } => {
                self.floor = Floor::Listening;
                if words.trim().is_empty() || is_backchannel(words) {
                    OnWords::Resume { reply_id }
                } else {
                    OnWords::Turn
                }
            }
            _ => OnWords::Turn,
        }
    }

    /// A reply is stopped and waits for the caller's words.
    pub fn is_interrupted(&self) -> bool {
        matches!(self.floor, Floor::Interrupted { .. })
    }
}

/// Words a listener says to show they are following, not to take the turn, as Whisper spells them.
const BACKCHANNELS: &[&str] = &[
    "mhm",
    "mhmm",
    "mm",
    "mmhm",
    "mmhmm",
    "mmm",
    "hmm",
    "uh huh",
    "uhhuh",
    "uhuh",
    "okay",
    "ok",
    "yeah",
    "yep",
    "yup",
    "right",
    "all right",
    "alright",
];

/// Whether `text` is only backchannels ("Mm-hmm.", "Okay, right.", "uh huh"), with nothing asked or said.
pub fn is_backchannel(text: &str) -> bool {
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | '!' | '…' | ';'))
        .map(|word| word.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase())
        .filter(|word| !word.is_empty())
        .collect();
    if words.is_empty() || text.contains('?') {
        return false;
    }
    // Greedy over one- and two-word backchannels ("uh huh", "all right").
    let mut i = 0;
    while i < words.len() {
        if i + 1 < words.len() && BACKCHANNELS.contains(&format!("{} {}", words[i], words[i + 1]).as_str()) {
            i += 2;
        } else if BACKCHANNELS.contains(&words[i].as_str()) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speech_over_an_interruptible_reply_stops_it_at_once() {
        let mut barge = BargeIn::new();
        barge.speaking(3, true);
        assert_eq!(barge.speech_started(), OnSpeech::Stop { reply_id: 3 });
        assert!(barge.is_interrupted());
        // The caller goes on talking: nothing more to stop.
        assert_eq!(barge.speech_started(), OnSpeech::Listen);
    }

    #[test]
    fn a_backchannel_resumes_the_reply_and_real_words_take_the_turn() {
        let mut barge = BargeIn::new();
        barge.speaking(1, true);
        barge.speech_started();
        assert_eq!(barge.heard("Mm-hmm."), OnWords::Resume { reply_id: 1 });
        assert!(!barge.is_interrupted());

        barge.speaking(2, true);
        barge.speech_started();
        assert_eq!(barge.heard("Actually I want to block my card"), OnWords::Turn);
        assert!(!barge.is_interrupted());
    }

    #[test]
    fn noise_that_transcribes_to_nothing_was_no_interruption() {
        let mut barge = BargeIn::new();
        barge.speaking(5, true);
        barge.speech_started();
        assert_eq!(barge.heard(""), OnWords::Resume { reply_id: 5 });
    }

    #[test]
    fn a_reply_that_may_not_be_interrupted_keeps_playing() {
        let mut barge = BargeIn::new();
        barge.speaking(4, false);
        assert_eq!(barge.speech_started(), OnSpeech::Ignore { reply_id: 4 });
        assert!(!barge.is_interrupted());
        assert_eq!(barge.answered(), None, "keys do not stop it either");
        barge.finished(4);
        assert_eq!(barge.speech_started(), OnSpeech::Listen);
    }

    #[test]
    fn speech_with_nothing_playing_is_just_a_turn() {
        let mut barge = BargeIn::new();
        assert_eq!(barge.speech_started(), OnSpeech::Listen);
        assert_eq!(barge.heard("okay"), OnWords::Turn, "an 'okay' answering a question is a turn");
        barge.speaking(1, true);
        barge.finished(1);
        assert_eq!(barge.speech_started(), OnSpeech::Listen);
        barge.finished(99);
    }

    #[test]
    fn keys_or_text_over_a_reply_stop_it_without_resuming() {
        let mut barge = BargeIn::new();
        barge.speaking(7, true);
        assert_eq!(barge.answered(), Some(7));
        assert_eq!(barge.speech_started(), OnSpeech::Listen);
        barge.speaking(8, true);
        barge.speech_started();
        assert_eq!(barge.answered(), None, "already stopped");
        assert_eq!(barge.heard("mhm"), OnWords::Turn, "the interruption was overtaken by the answer");
    }

    #[test]
    fn backchannels_are_recognised_in_whispers_spellings_and_nothing_else() {
        for text in
            ["mhm", "Mm-hmm.", "Uh-huh.", "uh huh", "Okay.", "OK", "Yeah.", "Right.", "Okay, right.", "All right."]
        {
            assert!(is_backchannel(text), "{text:?}");
        }
        for text in ["", "...", "okay what?", "yeah I lost my card", "right, my balance please", "no", "stop"] {
            assert!(!is_backchannel(text), "{text:?}");
        }
    }
}

//! Answers that affirm or deny: "yes", "yeah", "that's right", "go ahead" (`affirm`, `true`); "no",
//! "nope", "that's wrong", "not really", "don't" (`deny`, `false`).
//!
//! Words match whole ("no" is never found in "know" or "number"). Phrases come in two strengths:
//!
//! - Clear answers count anywhere: "yes", "yeah", "nope", "that's right", "go ahead", "not really".
//! - Words that are answers only at the start of a clause count only there (after nothing but
//!   fillers such as "oh", "um", "well", or another answer): "sure", "right", "okay", "correct",
//!   "absolutely", "don't". So "sure go ahead" affirms, while "I'm not sure", "make sure", "right now"
//!   and "is that correct" do not. "no" also counts at the end of a clause ("I said no").
//!
//! Not answers: "no problem", "no worries", "no idea", "no one" and the like; "not really sure"; "don't
//! know". "no" in the middle of a sentence is a determiner ("there's no charge") and is left alone.
//! Sarcasm ("yeah right") is beyond a word list.

use super::words::{word, Token};
use super::{kind, Candidate, EntityValue};

/// A phrase that answers, as lower-case words.
struct Answer {
    words: &'static [&'static str],
    affirm: bool,
    /// Counts only at the start of a clause.
    clause_start_only: bool,
}

const fn anywhere(words: &'static [&'static str], affirm: bool) -> Answer {
    Answer { words, affirm, clause_start_only: false }
}

const fn at_start(words: &'static [&'static str], affirm: bool) -> Answer {
    Answer { words, affirm, clause_start_only: true }
}

/// Longest phrases first, so "no thank you" is found before "no".
const ANSWERS: &[Answer] = &[
    anywhere(&["i", "don't", "think", "so"], false),
    anywhere(&["that", "is", "not", "right"], false),
    anywhere(&["that", "is", "not", "correct"], false),
    anywhere(&["that's", "not", "right"], false),
    anywhere(&["that's", "not", "correct"], false),
    anywhere(&["of", "course", "not"], false),
    anywhere(&["that", "is", "correct"], true),
    anywhere(&["that", "is", "right"], true),
    anywhere(&["that", "is", "wrong"], false),
    anywhere(&["no", "thank", "you"], false),
    anywhere(&["that's", "right"], true),
    anywhere(&["thats", "right"], true),
    anywhere(&["that's", "correct"], true),
    anywhere(&["thats", "correct"], true),
    anywhere(&["that's", "wrong"], false),
    anywhere(&["thats", "wrong"], false),
    anywhere(&["yes", "please"], true),
    anywhere(&["uh", "huh"], true),
    anywhere(&["mm", "hmm"], true),
    anywhere(&["please", "do"], true),
    anywhere(&["go", "ahead"], true),
    anywhere(&["of", "course"], true),
    anywhere(&["sounds", "good"], true),
    anywhere(&["not", "really"], false),
    anywhere(&["no", "thanks"], false),
    anywhere(&["please", "don't"], false),
    anywhere(&["absolutely", "not"], false),
    anywhere(&["definitely", "not"], false),
    anywhere(&["certainly", "not"], false),
    anywhere(&["do", "not"], false),
    at_start(&["all", "right"], true),
    anywhere(&["yes"], true),
    anywhere(&["yeah"], true),
    anywhere(&["yep"], true),
    anywhere(&["yup"], true),
    anywhere(&["mhm"], true),
    anywhere(&["nope"], false),
    anywhere(&["nah"], false),
    anywhere(&["incorrect"], false),
    at_start(&["no"], false),
    at_start(&["don't"], false),
    at_start(&["sure"], true),
    at_start(&["right"], true),
    at_start(&["correct"], true),
    at_start(&["okay"], true),
    at_start(&["ok"], true),
    at_start(&["alright"], true),
    at_start(&["absolutely"], true),
    at_start(&["definitely"], true),
    at_start(&["exactly"], true),
    at_start(&["wrong"], false),
    at_start(&["negative"], false),
];

/// Words after "no" that make it no answer: "no problem", "no idea".
const NOT_AFTER_NO: &[&str] =
    &["problem", "problems", "worries", "worry", "doubt", "idea", "one", "matter", "longer", "more"];

/// Words after a denial that make it a statement: "don't know", "not really sure".
const NOT_AFTER_DENIAL: &[&str] = &["know", "understand", "remember", "sure", "see", "have", "think", "want"];

/// Words that leave the clause start where it was: "oh yes", "um no", "well sure".
const FILLERS: &[&str] = &["oh", "uh", "um", "umm", "er", "erm", "ah", "hmm", "well", "so", "and", "but", "like"];

pub(super) fn extract(tokens: &[Token], out: &mut Vec<Candidate>) {
    let mut clause_start = true;
    let mut i = 0;
    while i < tokens.len() {
        let found = ANSWERS.iter().find(|a| matches_at(tokens, i, a, clause_start));
        match found {
            Some(answer) => {
                let end = i + answer.words.len();
                let kind = if answer.affirm { kind::AFFIRM } else { kind::DENY };
                out.push(Candidate::new(kind, EntityValue::Bool(answer.affirm), tokens[i].start, tokens[end - 1].end));
                // An answer leaves the clause open for another: "yeah sure", "no no".
                clause_start = true;
                i = end;
            }
            None => {
                clause_start = (clause_start && FILLERS.contains(&tokens[i].norm.as_str())) || tokens[i].clause_end;
                i += 1;
            }
        }
    }
}

fn matches_at(tokens: &[Token], i: usize, answer: &Answer, clause_start: bool) -> bool {
    let said = answer.words.iter().enumerate().all(|(n, w)| word(tokens, i + n) == *w);
    if !said {
        return false;
    }
    let end = i + answer.words.len();
    let next = word(tokens, end);
    let previous = if i > 0 { word(tokens, i - 1) } else { "" };
    let at_clause_end = next.is_empty() || tokens[end - 1].clause_end;
    let negated = matches!(previous, "not" | "never");
    let first = answer.words.first().copied().unwrap_or_default();
    let place_ok = match first {
        // "no" opens a clause or closes one ("I said no"), and is not "no problem".
        "no" if answer.words.len() == 1 => (clause_start || at_clause_end) && !NOT_AFTER_NO.contains(&next),
        _ if answer.clause_start_only => clause_start,
        _ => true,
    };
    let denial = !answer.affirm && matches!(first, "don't" | "not" | "do");
    let statement = denial && NOT_AFTER_DENIAL.contains(&next);
    place_ok && !statement && !(answer.affirm && negated)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{found, today};
    use super::super::{kind, EntityExtractor, EntityValue};

    fn answers(text: &str) -> Vec<(String, EntityValue)> {
        found(text).into_iter().filter(|(k, _)| k == kind::AFFIRM || k == kind::DENY).collect()
    }

    fn affirm() -> (String, EntityValue) {
        (kind::AFFIRM.to_string(), EntityValue::Bool(true))
    }

    fn deny() -> (String, EntityValue) {
        (kind::DENY.to_string(), EntityValue::Bool(false))
    }

    #[test]
    fn affirmations_as_callers_say_them() {
        let said =
            ["yes", "yeah", "yep", "correct", "that's right", "sure", "please do", "go ahead", "um yeah", "uh huh"];
        for said in said {
            assert_eq!(answers(said), [affirm()], "{said}");
        }
        assert_eq!(answers("sure go ahead"), [affirm(), affirm()]);
    }

    #[test]
    fn denials_as_callers_say_them() {
        let said =
            ["no", "nope", "that's wrong", "not really", "don't", "no I want a refund", "I said no", "absolutely not"];
        for said in said {
            assert_eq!(answers(said), [deny()], "{said}");
        }
    }

    #[test]
    fn no_inside_other_words_or_phrases_is_not_a_denial() {
        assert!(answers("I know my number").is_empty());
        assert!(answers("no problem").is_empty());
        assert!(answers("there's no charge on my card").is_empty());
        assert!(answers("I don't know").is_empty());
    }

    #[test]
    fn sure_and_right_mid_sentence_are_not_affirmations() {
        assert!(answers("I'm not sure").is_empty());
        assert!(answers("make sure it arrives right now").is_empty());
        assert!(answers("is that correct").is_empty());
    }

    #[test]
    fn a_comma_starts_a_new_clause() {
        assert_eq!(answers("well, no"), [deny()]);
        let e = EntityExtractor::default().extract("Yes, that's right.", today());
        assert_eq!(e.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(), ["Yes", "that's right"]);
    }
}

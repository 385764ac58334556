//! Plain numbers: "two hundred and five", "three", "42", "4.5", "four point five".
//!
//! Every number is proposed; resolution drops those that are part of something longer (an amount, a
//! date, a digit string). A lone "one" is left out: callers say it as a pronoun ("that one", "the one I
//! ordered") far more often than as a count, and so is the "four" of "the last four".

use super::words::{number, Token};
use super::{kind, Candidate, EntityValue};

pub(super) fn extract(tokens: &[Token], out: &mut Vec<Candidate>) {
    let mut i = 0;
    while i < tokens.len() {
        match number(tokens, i) {
            Some(n) => {
                let pronoun_one = n.spelled && n.len == 1 && tokens[i].norm == "one";
                let cue = n.len == 1 && super::digits::is_last_four_cue(tokens, i);
                if !pronoun_one && !cue && n.value.is_finite() {
                    let end = tokens[i + n.len - 1].end;
                    out.push(Candidate::new(kind::NUMBER, EntityValue::Number(n.value), tokens[i].start, end));
                }
                i += n.len;
            }
            None => i += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{found, one};
    use super::super::{kind, EntityValue};

    #[test]
    fn one_as_a_pronoun_is_not_a_number() {
        assert!(found("that one please").iter().all(|(k, _)| k != kind::NUMBER));
        assert_eq!(found("one hundred"), one(kind::NUMBER, EntityValue::Number(100.0)));
    }
}

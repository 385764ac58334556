//! Caller sentiment on a −1..1 scale, with the two signals a support line acts on: frustration and
//! "get me a person".
//!
//! Two layers, both lexicon-based, so a turn takes microseconds (about 7 µs for a 15-word turn, release
//! build) and ASR text (lowercase, no punctuation) is no handicap:
//!
//! 1. VADER (the `vader_sentiment` port, Hutto & Gilbert 2014) scores general feeling words, with its
//!    own negation ("not good") and intensifiers ("so helpful"). Its lexicon is adapted to a bank's
//!    phone line first: words that name the caller's *business* rather than their *feeling* ("lost",
//!    "stolen", "fraud", "credit", "please", "help", "yes", "no") are removed, so "i lost my card"
//!    scores 0 rather than negative.
//! 2. A support-line layer matches what VADER cannot: frustration phrases ("third time i'm calling",
//!    "i've been waiting", "nobody helps", "cancel my account"), swearing, negated satisfaction
//!    ("not helpful"), with an intensifier in front ("really useless") weighing more and a negation in
//!    front ("i'm not fed up") cancelling the phrase. Words a phrase covers are not scored again by VADER.
//!
//! Both layers add up in VADER's raw valence units and are squashed to −1..1 with VADER's own
//! normalisation, so one frustration phrase alone lands near −0.6 and each further cue pushes harder.
//!
//! `wants_human` is separate from the score: asking for an agent is a routing fact, not a feeling.
//! It is pragmatic, not grammatical: a person noun ("agent", "representative", "supervisor", "someone")
//! counts when the utterance is little more than that noun ("agent please"), or when a request verb
//! ("talk", "speak", "transfer", "get", "need", ...) leads to it through small words only ("transfer
//! me to a live agent"). Nouns the caller owns or is ("my manager", "i'm a travel agent") and refusals
//! ("i don't need an agent") do not count. "i don't want to talk to a machine" does.

use std::collections::HashMap;
use std::sync::LazyLock;

use vader_sentiment::SentimentIntensityAnalyzer;

/// How a caller feels, as the agent taking over the call should hear about it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Sentiment {
    /// −1 very negative .. 1 very positive; near 0 for a plain request.
    pub score: f32,
    pub frustration: bool,
    pub wants_human: bool,
    /// The phrases that moved the score, in the order spoken, for the agent's summary.
    pub cues: Vec<String>,
}

/// Longer input is cut: ASR turns are far shorter, and a pasted chat novel must not stall a call.
const MAX_CHARS: usize = 10_000;
/// VADER's normalisation constant: `score = x / sqrt(x² + ALPHA)`.
const ALPHA: f64 = 15.0;
/// Raw valence of one frustration phrase. Alone it scores −3/√24 ≈ −0.61; VADER's strongest words
/// ("hate", "worst") sit near −3 too, so a phrase weighs like one of them.
const STRONG: f64 = -3.0;
/// Milder cues (waiting, calling again, "not helpful"): alone ≈ −0.46, still clearly negative.
const MILD: f64 = -2.0;
/// An intensifier in front ("really", "so") multiplies a cue, as VADER's boosters roughly do.
const INTENSIFIER_GAIN: f64 = 1.3;
/// Below this a caller counts as frustrated even without a listed phrase: general negative words
/// as heavy as one strong phrase ("i'm so disappointed and sad" ≈ −0.76, "a disaster" ≈ −0.62).
const FRUSTRATED_SCORE: f32 = -0.6;

/// Analyse one utterance. Never panics; empty text scores 0 with no cues.
pub fn sentiment(text: &str) -> Sentiment {
    let text = match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => &text[..cut],
        None => text,
    };
    let tokens = tokenize(text);
    let support = support_cues(&tokens);
    let (compound, lexicon_cues) = vader(&tokens, &support.covered);

    // A caller who voices frustration is not positive overall: "great just great, third time i'm
    // calling" is sarcasm, and "thanks" before "i've been waiting an hour" is politeness.
    let general = if support.frustrated { raw_valence(compound).min(0.0) } else { raw_valence(compound) };
    let total = general + support.points;
    let score = (total / (total * total + ALPHA).sqrt()) as f32;

    let mut positioned: Vec<(usize, String)> = support.cues.into_iter().chain(lexicon_cues).collect();
    positioned.sort_by_key(|(position, _)| *position);
    let mut cues: Vec<String> = Vec::new();
    for (_, cue) in positioned {
        if !cues.contains(&cue) {
            cues.push(cue);
        }
    }
    Sentiment {
        score,
        frustration: support.frustrated || score <= FRUSTRATED_SCORE,
        wants_human: wants_human(&tokens),
        cues,
    }
}

// ---------------------------------------------------------------------------------------------------
// Tokens

/// Hesitations ASR writes down; they carry nothing and would break phrase matching ("this is um useless").
const FILLERS: &[&str] = &["um", "umm", "uh", "uhh", "er", "erm", "ah", "hmm", "mm"];

/// Lowercase words with apostrophes removed ("i've" and ASR's "ive" become one token), and emoji
/// kept as tokens of their own for VADER's emoji lexicon. Fillers are dropped.
fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() || c == '*' {
            word.extend(c.to_lowercase());
        } else if matches!(c, '\'' | '\u{2019}' | '\u{2018}' | '`') {
            // Inside a word: dropped, so "don't" → "dont".
        } else {
            push_word(&mut tokens, &mut word);
            let mut buf = [0; 4];
            if vader_sentiment::EMOJI_LEXICON.contains_key(&*c.encode_utf8(&mut buf)) {
                tokens.push(c.to_string());
            }
        }
    }
    push_word(&mut tokens, &mut word);
    tokens
}

fn push_word(tokens: &mut Vec<String>, word: &mut String) {
    if !word.is_empty() && !FILLERS.contains(&word.as_str()) {
        tokens.push(std::mem::take(word));
    }
    word.clear();
}

fn any_of(word: &str, list: &[&str]) -> bool {
    list.contains(&word)
}

// ---------------------------------------------------------------------------------------------------
// Support-line layer

/// Anger, insults, threats to leave: one of these is frustration on its own.
#[rustfmt::skip]
const STRONG_PHRASES: &[&str] = &[
    "ridiculous", "unacceptable", "useless", "pathetic", "incompetent", "outrageous", "absurd",
    "disgusting", "disgraceful", "appalling", "worst", "terrible", "horrible", "awful", "fed up",
    "sick of", "sick and tired", "had enough", "waste of time", "wasting my time", "what a joke",
    "this is a joke", "are you kidding", "are you kidding me", "is this a joke", "thanks for nothing",
    "furious", "livid", "pissed", "pissed off", "hate this", "hate you", "hate your",
    "cancel my account", "close my account", "closing my account", "switch banks", "switching banks",
    "go to another bank", "going to another bank", "move to another bank", "moving to another bank",
    "nobody helps", "no one helps", "nobody is helping", "no one is helping", "nobody ever helps",
    "nobody can help", "no one can help", "nobody listens", "no one listens", "you people",
    "give me a break", "for gods sake", "for crying out loud", "i give up", "hung up on me",
    "screw this", "screw you",
];

/// Annoyance and repeated effort: frustration, but less heated.
#[rustfmt::skip]
const MILD_PHRASES: &[&str] = &[
    "frustrated", "frustrating", "annoyed", "annoying", "angry", "upset", "second time", "third time",
    "fourth time", "fifth time", "2nd time", "3rd time", "4th time", "three times", "four times",
    "five times", "several times", "so many times", "how many times", "again and again",
    "over and over", "been waiting", "still waiting", "been on hold", "on hold for", "waiting forever",
    "taking forever", "takes forever", "still not", "still no", "still hasnt", "still havent",
    "still doesnt", "still dont", "keep calling", "keep getting transferred", "transferred again",
    "going in circles", "going around in circles", "runaround", "run around", "nobody called back",
    "no one called back", "never called back", "no help", "doesnt help", "didnt help", "not helping",
];

/// Politeness that VADER would misread: "thanks" in a refusal is not praise, "hate" in "i hate to
/// bother you" is not anger. Matched so that VADER does not see them, and worth nothing.
#[rustfmt::skip]
const NEUTRAL_PHRASES: &[&str] = &[
    "no thanks", "no thank you", "thanks but no", "thank you but no", "hate to bother you",
    "sorry to bother you", "sorry to trouble you",
];

/// Swear words, matched whole; stems match any word they begin ("fucking", "shitty").
const SWEARS: &[&str] = &["hell", "damn", "dammit", "damnit", "goddamn", "crap", "crappy", "ass", "wtf", "bloody"];
const SWEAR_STEMS: &[&str] = &["fuck", "shit", "bullshit", "asshole", "bastard", "piss"];

/// Satisfaction words that, negated ("not helpful", "hasn't been resolved"), are a complaint.
#[rustfmt::skip]
const NEGATABLE_SATISFACTION: &[&str] =
    &["happy", "pleased", "helpful", "satisfied", "acceptable", "fair", "resolved", "fixed", "sorted"];

/// Words that negate what follows. Not "no": like VADER we read "no problem, i'm happy" and "no it's
/// useless" as they are meant; "no help" is a phrase of its own.
#[rustfmt::skip]
const NEGATORS: &[&str] = &[
    "not", "never", "nothing", "isnt", "wasnt", "arent", "werent", "dont", "doesnt", "didnt",
    "hasnt", "havent", "hadnt", "cant", "cannot", "wont", "wouldnt", "aint",
];

#[rustfmt::skip]
const INTENSIFIERS: &[&str] =
    &["really", "so", "very", "absolutely", "completely", "totally", "extremely", "utterly", "beyond", "just"];

/// The phrase lists split into words once.
static PHRASES: LazyLock<Vec<(Vec<&'static str>, f64)>> = LazyLock::new(|| {
    let strong = STRONG_PHRASES.iter().map(|p| (p.split(' ').collect(), STRONG));
    let mild = MILD_PHRASES.iter().map(|p| (p.split(' ').collect(), MILD));
    let neutral = NEUTRAL_PHRASES.iter().map(|p| (p.split(' ').collect(), 0.0));
    strong.chain(mild).chain(neutral).collect()
});

/// What the support-line layer found.
struct SupportCues {
    points: f64,
    frustrated: bool,
    /// `(token position, phrase as spoken)`.
    cues: Vec<(usize, String)>,
    /// Tokens a cue used; VADER does not see them, so nothing counts twice.
    covered: Vec<bool>,
}

fn support_cues(tokens: &[String]) -> SupportCues {
    let mut found =
        SupportCues { points: 0.0, frustrated: false, cues: Vec::new(), covered: vec![false; tokens.len()] };
    let mut i = 0;
    while i < tokens.len() {
        let Some((start, end, points)) = cue_at(tokens, i) else {
            i += 1;
            continue;
        };
        // "really useless", "so fed up": the intensifier is part of what was said.
        let (start, points) = match start.checked_sub(1) {
            Some(before) if any_of(&tokens[before], INTENSIFIERS) => (before, points * INTENSIFIER_GAIN),
            _ => (start, points),
        };
        found.covered[start..end].iter_mut().for_each(|c| *c = true);
        if points < 0.0 {
            found.points += points;
            found.frustrated = true;
            found.cues.push((start, tokens[start..end].join(" ")));
        }
        i = end;
    }
    found
}

/// The cue that starts at token `i` (or, for negated satisfaction, ends there): `(start, end, points)`.
fn cue_at(tokens: &[String], i: usize) -> Option<(usize, usize, f64)> {
    let word = tokens[i].as_str();
    let swear = any_of(word, SWEARS) || SWEAR_STEMS.iter().any(|stem| word.starts_with(stem)) || is_masked(word);
    if swear {
        return Some((i, i + 1, STRONG));
    }
    let longest = PHRASES
        .iter()
        .filter(|(words, _)| tokens.len() - i >= words.len() && words.iter().zip(&tokens[i..]).all(|(w, t)| w == t))
        .max_by_key(|(words, _)| words.len());
    if let Some((words, points)) = longest {
        // "i'm not fed up", "it isn't useless": a negation just before cancels the phrase.
        let negated = *points < 0.0 && tokens[i.saturating_sub(2)..i].iter().any(|t| any_of(t, NEGATORS));
        return (!negated).then_some((i, i + words.len(), *points));
    }
    if any_of(word, NEGATABLE_SATISFACTION) {
        // "not happy", "not very helpful", "hasn't been resolved": a negator up to three words back.
        let negator = (i.saturating_sub(3)..i).rev().find(|&j| any_of(&tokens[j], NEGATORS));
        return negator.map(|j| (j, i + 1, MILD));
    }
    None
}

/// Profanity an ASR or chat client masked: "f***", "****" (but not "**urgent**").
fn is_masked(word: &str) -> bool {
    let stars = word.chars().filter(|&c| c == '*').count();
    let mut chars = word.chars();
    let letter_then_stars = chars.next().is_some_and(char::is_alphabetic) && chars.all(|c| c == '*');
    (letter_then_stars && stars >= 2) || (stars >= 3 && stars == word.chars().count())
}

// ---------------------------------------------------------------------------------------------------
// VADER, adapted to a support line

/// Words that on a bank's line name the caller's business, not their feeling about it: removed from
/// VADER's lexicon. ("please help" is not praise; "i lost my card" is not a complaint about us.)
#[rustfmt::skip]
const NEUTRAL_ON_A_SUPPORT_LINE: &[&str] = &[
    // Politeness and dialogue acts: requests, answers and greetings are not sentiment.
    "please", "help", "want", "like", "kind", "well", "sure", "yes", "yeah", "yep", "no", "nah", "ok",
    "okay", "fine", "sorry", "pardon", "excuse", "true", "agree", "allow", "accept", "accepted", "joke",
    // Banking vocabulary.
    "credit", "credits", "interest", "save", "saved", "saving", "free", "safe", "safety", "secure",
    "security", "protect", "protected", "protection", "care", "trust", "share", "benefit", "benefits",
    "clear", "cleared", "worth", "bonus", "reward", "rewards", "gift", "win", "limited", "low", "pay",
    "debt", "penalty", "risk", "block", "blocked", "cancel", "cancelled", "canceled", "freeze",
    // The caller's problem, reported rather than felt.
    "lost", "lose", "loss", "stolen", "steal", "theft", "fraud", "fraudulent", "scam", "scammed",
    "hacked", "suspicious", "dispute", "disputed", "charged", "missing", "deny", "denied", "reject",
    "rejected", "mistake", "error", "errors", "wrong", "problem", "problems", "trouble", "fail",
    "failed", "stuck", "broken", "damaged", "emergency", "urgent", "important", "charges", "avoid",
    "miss", "missed", "forget",
];

fn neutral_on_a_support_line(word: &str) -> bool {
    NEUTRAL_ON_A_SUPPORT_LINE.contains(&word.to_lowercase().as_str())
}

/// VADER on the adapted lexicon. The analyzer borrows its lexicon for the life of the process, so
/// the adapted copy is leaked once, on first use.
static ANALYZER: LazyLock<SentimentIntensityAnalyzer<'static>> = LazyLock::new(|| {
    let mut lexicon = vader_sentiment::LEXICON.clone();
    lexicon.retain(|word, _| !neutral_on_a_support_line(word));
    SentimentIntensityAnalyzer::from_lexicon(Box::leak(Box::new(lexicon)))
});

/// The same adapted lexicon, lowercase, to find which words moved the score.
static VALENCE: LazyLock<HashMap<String, f64>> = LazyLock::new(|| {
    vader_sentiment::LEXICON
        .iter()
        .filter(|(word, valence)| **valence != 0.0 && !neutral_on_a_support_line(word))
        .map(|(word, valence)| (word.to_lowercase(), *valence))
        .collect()
});

/// VADER's compound score on the tokens no support cue used, and the lexicon words that moved it.
fn vader(tokens: &[String], covered: &[bool]) -> (f64, Vec<(usize, String)>) {
    let kept: Vec<(usize, &str)> =
        tokens.iter().enumerate().filter(|(i, _)| !covered[*i]).map(|(i, t)| (i, t.as_str())).collect();
    if kept.is_empty() {
        return (0.0, Vec::new());
    }
    let text = kept.iter().map(|(_, t)| *t).collect::<Vec<_>>().join(" ");
    let compound = ANALYZER.polarity_scores(&text).get("compound").copied().unwrap_or(0.0);

    let mut cues = Vec::new();
    for (k, &(position, token)) in kept.iter().enumerate() {
        if !moves_vader(token) {
            continue;
        }
        // Name the negation too ("not good"), within VADER's own three-word window.
        let negator = kept[k.saturating_sub(3)..k].iter().rev().find(|(_, t)| any_of(t, NEGATORS));
        let cue = match negator {
            Some((at, negator)) => (*at, format!("{negator} {token}")),
            None => (position, token.to_string()),
        };
        cues.push(cue);
    }
    (compound, cues)
}

/// Whether VADER scores this token: a lexicon word (it ignores one-letter tokens) or an emoji whose
/// description holds one.
fn moves_vader(token: &str) -> bool {
    let scored = |word: &str| word.len() > 1 && VALENCE.contains_key(word);
    match vader_sentiment::EMOJI_LEXICON.get(token) {
        Some(description) => description.split_whitespace().any(scored),
        None => scored(token),
    }
}

/// Inverts VADER's normalisation so its compound can be added to in raw valence units.
fn raw_valence(compound: f64) -> f64 {
    let c = compound.clamp(-0.999, 0.999);
    c * ALPHA.sqrt() / (1.0 - c * c).sqrt()
}

// ---------------------------------------------------------------------------------------------------
// "Get me a person"

/// Who a caller may ask for.
#[rustfmt::skip]
const PERSON_NOUNS: &[&str] = &[
    "agent", "agents", "representative", "representatives", "rep", "operator", "human", "person",
    "someone", "somebody", "anyone", "anybody", "supervisor", "manager", "banker", "advisor", "adviser",
];
/// The nouns that make a request on their own: "agent", "representative please".
#[rustfmt::skip]
const BARE_REQUEST_NOUNS: &[&str] =
    &["agent", "representative", "rep", "operator", "human", "supervisor", "manager", "person"];
/// Words that may stand around a bare request noun: "uh agent please", "a real person".
#[rustfmt::skip]
const BARE_REQUEST_EXTRAS: &[&str] = &[
    "please", "a", "an", "the", "just", "now", "right", "away", "real", "live", "actual", "customer",
    "service", "being", "hello", "hi", "hey", "yes", "yeah", "ok", "okay", "oh",
];
#[rustfmt::skip]
const REQUEST_VERBS: &[&str] = &[
    "talk", "speak", "transfer", "connect", "put", "get", "give", "want", "need", "like", "reach",
    "escalate", "have", "chat", "see", "ask",
];
/// Small words that may sit between a request verb and the person: "transfer me to a live agent".
#[rustfmt::skip]
const CONNECTORS: &[&str] = &[
    "to", "with", "a", "an", "the", "me", "us", "your", "some", "real", "live", "actual", "proper",
    "senior", "another", "different", "other", "please", "just", "now", "right", "through", "on",
    "over", "one", "of", "for", "speak", "talk", "customer", "branch",
];
/// Before a person noun, these make it someone the caller has or is, not someone they ask for.
#[rustfmt::skip]
const NOT_A_REQUEST_BEFORE: &[&str] = &[
    "my", "his", "her", "their", "our", "travel", "estate", "insurance", "secret", "sales", "booking",
    "ticket", "shipping", "rental", "leasing", "customs", "free",
];
/// "i'm a travel agent", "i am an agent", "i work as a manager", "i was a banker".
const SELF_DESCRIPTION: &[&str] = &["im", "am", "as", "was", "work", "works", "worked"];
const MACHINE_NOUNS: &[&str] = &["machine", "robot", "computer", "bot", "automated", "recording"];
const TALK_VERBS: &[&str] = &["talk", "talking", "speak", "speaking", "deal", "dealing", "chat", "chatting"];

fn wants_human(tokens: &[String]) -> bool {
    let words: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let is_person = |j: usize| {
        any_of(words[j], PERSON_NOUNS)
            || (matches!(words[j], "service" | "support") && j > 0 && words[j - 1] == "customer")
    };

    // "agent", "representative please", "customer service", "a real person".
    let only_request_words = words.iter().all(|w| any_of(w, BARE_REQUEST_NOUNS) || any_of(w, BARE_REQUEST_EXTRAS));
    let names_someone =
        words.iter().any(|w| any_of(w, BARE_REQUEST_NOUNS)) || words.windows(2).any(|p| p == ["customer", "service"]);
    if only_request_words && names_someone {
        return true;
    }

    (0..words.len()).any(|j| {
        if is_person(j) && !owned_or_self(&words, j) && requested(&words, j) {
            return true;
        }
        // "i don't want to talk to a machine", "i'm tired of talking to a robot".
        any_of(words[j], MACHINE_NOUNS) && refuses_machine(&words, j)
    })
}

fn owned_or_self(words: &[&str], j: usize) -> bool {
    let before = &words[j.saturating_sub(4)..j];
    before.last().is_some_and(|w| any_of(w, NOT_A_REQUEST_BEFORE)) || before.iter().any(|w| any_of(w, SELF_DESCRIPTION))
}

/// A request verb leads to the person at `j` through connectors only, and is not refused
/// ("i don't need an agent").
fn requested(words: &[&str], j: usize) -> bool {
    for k in (j.saturating_sub(7)..j).rev() {
        if any_of(words[k], REQUEST_VERBS) {
            let refused = matches!(words[k], "need" | "want")
                && words[k.saturating_sub(2)..k].iter().any(|w| matches!(*w, "dont" | "not" | "no" | "never"));
            return !refused;
        }
        if !any_of(words[k], CONNECTORS) {
            return false;
        }
    }
    false
}

fn refuses_machine(words: &[&str], j: usize) -> bool {
    let window = &words[j.saturating_sub(6)..j];
    let Some(talk) = window.iter().rposition(|w| any_of(w, TALK_VERBS)) else { return false };
    window[..talk]
        .iter()
        .any(|w| any_of(w, NEGATORS) || matches!(*w, "stop" | "tired" | "sick" | "hate"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(text: &str) -> f32 {
        sentiment(text).score
    }

    #[test]
    fn frustrated_callers_score_negative_and_are_flagged() {
        for text in [
            "this is ridiculous",
            "this is the third time i'm calling about this",
            "i've been waiting for two weeks for my card",
            "nobody helps me at this bank",
            "this is useless",
            "that is completely unacceptable",
            "i'm fed up with you people",
            "thanks for nothing",
            "this is terrible",
            "i want to cancel my account",
            "what the hell is going on with my card",
            "this is f*** ridiculous",
            "i called three times and nobody called back",
            "um i've been on hold for forty minutes",
        ] {
            let s = sentiment(text);
            assert!(s.score <= -0.4, "{text:?} scored {}", s.score);
            assert!(s.frustration, "{text:?} not flagged");
            assert!(!s.cues.is_empty(), "{text:?} has no cues");
        }
    }

    #[test]
    fn cues_name_the_phrases_as_spoken_with_their_intensifier() {
        let s = sentiment("look this is really useless and i've been waiting an hour");
        assert_eq!(s.cues, ["really useless", "been waiting"]);
        assert!(score("this is really useless") < score("this is useless"));
        let s = sentiment("oh great just great the third time i'm calling");
        assert!(s.score <= -0.4 && s.frustration, "sarcasm: {s:?}");
    }

    #[test]
    fn callers_asking_for_a_person_want_a_human() {
        for text in [
            "agent",
            "representative",
            "agent please",
            "operator",
            "uh representative representative",
            "i want to talk to a human",
            "can i speak to a real person",
            "let me speak to someone",
            "transfer me to a live agent",
            "get me your supervisor",
            "i need to speak to a manager",
            "put me through to customer service",
            "i don't want to talk to a machine",
            "can i talk to somebody please",
            "customer service",
            "i was told to ask for a supervisor",
        ] {
            assert!(sentiment(text).wants_human, "{text:?}");
        }
    }

    #[test]
    fn mentioning_an_agent_is_not_asking_for_one() {
        for text in [
            "i'm a travel agent and my card was declined abroad",
            "i am an estate agent",
            "my manager needs a copy of my statement",
            "the agent i spoke to yesterday said it was fixed",
            "someone stole my card",
            "i don't need an agent just my balance",
            "the machine ate my card",
            "i need to know if the agent sent the form",
            "i want to check my balance",
        ] {
            assert!(!sentiment(text).wants_human, "{text:?}");
        }
    }

    #[test]
    fn neutral_requests_score_near_zero() {
        for text in [
            "i want to check my balance",
            "i lost my card",
            "my card was stolen please block it",
            "i need to dispute a charge",
            "when is my credit card payment due",
            "can you help me activate my card",
            "i'd like to update my address",
            "what time does the branch open",
            "yes",
            "no",
            "no thanks",
            "sorry to bother you",
            "there's a charge i don't recognize",
            "i want to talk to an agent",
            "what are my recent transactions",
        ] {
            let s = sentiment(text);
            assert!(s.score.abs() < 0.2, "{text:?} scored {} ({:?})", s.score, s.cues);
            assert!(!s.frustration, "{text:?}");
        }
    }

    #[test]
    fn thanks_and_praise_score_positive() {
        for text in [
            "thank you",
            "thanks",
            "thank you so much that was really helpful",
            "great thanks",
            "you've been wonderful",
            "perfect that's exactly what i needed",
        ] {
            let s = sentiment(text);
            assert!(s.score > 0.3, "{text:?} scored {}", s.score);
            assert!(!s.frustration);
        }
    }

    #[test]
    fn negation_turns_satisfaction_into_a_complaint_and_cancels_frustration() {
        let s = sentiment("i'm not happy with this");
        assert!(s.score < -0.3 && s.frustration, "{s:?}");
        assert_eq!(s.cues, ["not happy"]);
        let s = sentiment("that was not very helpful");
        assert!(s.score < -0.3, "{s:?}");
        assert_eq!(s.cues, ["not very helpful"]);
        assert!(score("not good") < 0.0 && score("good") > 0.0);
        assert!(!sentiment("no problem i'm happy now").frustration);
        let s = sentiment("i'm not angry i just want my balance");
        assert!(!s.frustration && s.score >= 0.0, "{s:?}");
    }

    #[test]
    fn empty_and_filler_text_score_zero_without_cues() {
        for text in ["", "   ", "um uh", "..."] {
            let s = sentiment(text);
            assert_eq!((s.score, s.frustration, s.wants_human), (0.0, false, false), "{text:?}");
            assert!(s.cues.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn long_and_unusual_input_does_not_panic() {
        let long = "this is useless and i want an agent ".repeat(150);
        assert!(long.len() > 5_000);
        let s = sentiment(&long);
        assert!(s.frustration && s.wants_human && s.score >= -1.0);
        assert!(sentiment(&"a".repeat(50_000)).score.is_finite());

        assert!(score("thank you 😊") > 0.3);
        assert!(sentiment("😡😡😡").score.is_finite());
        for text in ["Ça ne marche pas, c'est nul !", "我的卡丢了", "ﷺ\u{0}\u{200d}👩‍👩‍👧", "''' ``` ’’", "*", "***", "a*"]
        {
            assert!(sentiment(text).score.is_finite(), "{text:?}");
        }
        // Random mixes of words, punctuation and non-ASCII.
        let pieces =
            ["not", "so", "agent", "useless", "!", "?", "😡", "é", "'", " ", "i", "dont", "talk", "to", "a", "machine"];
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..2_000 {
            let text: String = (0..rng.usize(0..12)).map(|_| pieces[rng.usize(..pieces.len())]).collect();
            assert!(sentiment(&text).score.abs() <= 1.0, "{text:?}");
        }
    }
}

//! Text to IPA phonemes with espeak-ng (the system library, linked directly), the way Piper does it:
//! one clause at a time, with the clause's punctuation put back after its phonemes, because Piper
//! voices were trained on phonemes that carry `,` `.` `?` and pause and intone by them.
//!
//! Piper's own espeak-ng fork has `espeak_TextToPhonemesWithTerminator`, which reports each clause's
//! punctuation. Debian's espeak-ng 1.51 has only `espeak_TextToPhonemes`, which drops it, so the clauses
//! are cut here instead, on the same marks, and each clause is phonemised on its own.
//!
//! espeak-ng keeps global state and is not thread-safe: every call goes through one process-wide lock,
//! and the library is initialised once, on first use.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::Mutex;

use super::TtsError;

// From /usr/include/espeak-ng/speak_lib.h.
const AUDIO_OUTPUT_SYNCHRONOUS: c_int = 2;
const ESPEAK_INITIALIZE_DONT_EXIT: c_int = 0x8000;
const ESPEAK_CHARS_UTF8: c_int = 1;
const ESPEAK_PHONEMES_IPA: c_int = 0x02;
const EE_OK: c_int = 0;

#[link(name = "espeak-ng")]
extern "C" {
    fn espeak_Initialize(output: c_int, buflength: c_int, path: *const c_char, options: c_int) -> c_int;
    fn espeak_SetVoiceByName(name: *const c_char) -> c_int;
    fn espeak_TextToPhonemes(textptr: *mut *const c_void, textmode: c_int, phonememode: c_int) -> *const c_char;
}

/// What the lock guards: whether espeak-ng started (and why not), and the voice now selected.
struct Engine {
    started: Option<Result<(), String>>,
    voice: Option<String>,
}

static ENGINE: Mutex<Engine> = Mutex::new(Engine { started: None, voice: None });

/// The punctuation that ends a clause, and what Piper appends after the clause's phonemes for it
/// (a comma, colon or semicolon is followed by a space, as in piper-phonemize).
fn clause_mark(punctuation: &str) -> Option<&'static str> {
    if punctuation.contains("..") {
        return Some("; "); // espeak-ng reads an ellipsis as a semicolon-like pause
    }
    match punctuation.chars().find(|c| ".?!,:;".contains(*c))? {
        '?' => Some("?"),
        '!' => Some("!"),
        ',' => Some(", "),
        ':' => Some(": "),
        ';' => Some("; "),
        _ => Some("."),
    }
}

/// Cut a sentence into clauses at `, ; : . ? !` followed by a space or the end: (clause text with its
/// punctuation, the mark Piper appends). A clause with no closing punctuation has no mark.
fn clauses(sentence: &str) -> Vec<(&str, Option<&'static str>)> {
    let is_mark = |c: char| ".?!,:;".contains(c);
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = sentence.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if !is_mark(c) {
            continue;
        }
        let mut end = i + c.len_utf8();
        while let Some(&(j, next)) = chars.peek() {
            if !is_mark(next) {
                break;
            }
            end = j + next.len_utf8();
            chars.next();
        }
        let rest = &sentence[end..];
        if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
            continue; // "acme.com", "two.three": not a clause break
        }
        let punctuation = &sentence[i..end];
        // "p m. tomorrow": a full stop before a lower-case word does not end anything.
        let carries_on = punctuation == "." && rest.trim_start().starts_with(char::is_lowercase);
        if !carries_on {
            out.push((&sentence[start..end], clause_mark(punctuation)));
            start = end;
        }
    }
    if !sentence[start..].trim().is_empty() {
        out.push((&sentence[start..], None));
    }
    out
}

/// IPA phonemes for one sentence of normalised text, with clause punctuation kept, e.g.
/// `"Hello, world."` → `"həlˈoʊ, wˈɜːld."`. `voice` is an espeak-ng voice name ("en-us").
pub fn phonemize(sentence: &str, voice: &str) -> Result<String, TtsError> {
    let mut engine = ENGINE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    start(&mut engine)?;
    if engine.voice.as_deref() != Some(voice) {
        let name = CString::new(voice).map_err(|_| TtsError::Espeak(format!("invalid voice name {voice:?}")))?;
        // SAFETY: `name` is a valid NUL-terminated string; the engine is initialised and we hold the lock.
        let status = unsafe { espeak_SetVoiceByName(name.as_ptr()) };
        if status != EE_OK {
            // Whatever espeak-ng now has selected, make the next call select again.
            engine.voice = None;
            return Err(TtsError::Espeak(format!(
                "espeak-ng has no voice {voice:?} (error {status}); install espeak-ng-data or fix `espeak.voice` in the voice's JSON"
            )));
        }
        engine.voice = Some(voice.to_string());
    }

    let mut phonemes = String::new();
    for (clause, mark) in clauses(sentence) {
        let spoken = clause_phonemes(clause)?;
        if spoken.is_empty() {
            continue;
        }
        phonemes.push_str(&spoken);
        // A clause with no punctuation of its own (the end of an unpunctuated sentence) still needs
        // a boundary from the next one.
        phonemes.push_str(mark.unwrap_or(" "));
        if matches!(mark, Some(".") | Some("?") | Some("!")) {
            phonemes.push(' ');
        }
    }
    Ok(phonemes.trim_end().to_string())
}

/// Initialise espeak-ng once; later calls return the first outcome.
fn start(engine: &mut Engine) -> Result<(), TtsError> {
    let outcome = engine.started.get_or_insert_with(|| {
        // SAFETY: a NULL path selects the data directory espeak-ng was built with (Debian's
        // /usr/lib/x86_64-linux-gnu/espeak-ng-data); DONT_EXIT makes a missing data directory an
        // error return instead of exit(1).
        let rate =
            unsafe { espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, std::ptr::null(), ESPEAK_INITIALIZE_DONT_EXIT) };
        if rate > 0 {
            Ok(())
        } else {
            Err(format!(
                "espeak-ng failed to initialise (error {rate}); install its data with `apt-get install espeak-ng-data`"
            ))
        }
    });
    outcome.clone().map_err(TtsError::Espeak)
}

/// Phonemes for one clause, whatever espeak-ng itself makes of it (it may cut it further, at brackets
/// or after very many words): the pieces are joined with spaces. The caller holds the lock.
fn clause_phonemes(clause: &str) -> Result<String, TtsError> {
    // espeak-ng reads up to a NUL, so an embedded one would silently truncate the text.
    let text = CString::new(clause.replace('\0', " "))
        .map_err(|_| TtsError::Espeak("text contains a NUL character".into()))?;
    let mut pointer: *const c_void = text.as_ptr().cast();
    let mut pieces: Vec<String> = Vec::new();
    // espeak-ng advances `pointer` through `text` and sets it to NULL at the end; the bound only guards
    // against a library that stopped advancing.
    for _ in 0..=clause.len() + 1 {
        if pointer.is_null() {
            break;
        }
        // SAFETY: `pointer` points into `text`, which outlives the loop; we hold the lock, so the
        // static buffer espeak-ng returns is not overwritten before it is copied.
        let result = unsafe { espeak_TextToPhonemes(&mut pointer, ESPEAK_CHARS_UTF8, ESPEAK_PHONEMES_IPA) };
        if result.is_null() {
            break;
        }
        // SAFETY: espeak-ng returns a NUL-terminated string in its own buffer.
        let piece = unsafe { CStr::from_ptr(result) }.to_string_lossy();
        let piece = strip_language_switches(piece.trim());
        if !piece.is_empty() {
            pieces.push(piece);
        }
    }
    Ok(pieces.join(" "))
}

/// espeak-ng marks words it reads in another language with "(fr)" ... "(en)"; Piper drops these.
fn strip_language_switches(phonemes: &str) -> String {
    let mut out = String::with_capacity(phonemes.len());
    let mut rest = phonemes;
    while let Some(open) = rest.find('(') {
        match rest[open..].find(')') {
            Some(close) if rest[open + 1..open + close].chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {
                out.push_str(&rest[..open]);
                rest = &rest[open + close + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_clauses_at_punctuation_followed_by_space() {
        assert_eq!(clauses("Hello, world."), [("Hello,", Some(", ")), (" world.", Some("."))]);
        assert_eq!(clauses("Why? Fine"), [("Why?", Some("?")), (" Fine", None)]);
        assert_eq!(clauses("acme.com rocks"), [("acme.com rocks", None)]);
        assert_eq!(clauses("three p m. tomorrow"), [("three p m. tomorrow", None)]);
        assert_eq!(clauses("Well... maybe"), [("Well...", Some("; ")), (" maybe", None)]);
    }

    #[test]
    fn keeps_clause_punctuation() {
        let phonemes = phonemize("Hello, world. How are you?", "en-us").expect("espeak-ng works");
        assert_eq!(phonemes, "həlˈoʊ, wˈɜːld. hˈaʊ ɑːɹ juː?");
    }

    #[test]
    fn unknown_voice_is_an_error() {
        let err = phonemize("Hello.", "no-such-voice").expect_err("voice does not exist");
        assert!(err.to_string().contains("no-such-voice"), "{err}");
        // The engine recovers for the next caller.
        assert!(phonemize("Hello.", "en-us").is_ok());
    }

    #[test]
    fn strips_language_switch_flags() {
        assert_eq!(strip_language_switches("(fr)kafe(en) ok"), "kafe ok");
        assert_eq!(strip_language_switches("a (b"), "a (b");
    }
}

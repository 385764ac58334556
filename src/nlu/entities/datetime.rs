//! Dates and times of day, as callers say them, relative to a given today.
//!
//! Written here on top of `chrono` rather than taken from a natural-date crate: `interim` (the
//! maintained successor of `chrono-english`) and `dateparser` parse a whole string that *is* a date
//! ("next friday", "April 1 2018", "3/4/26"), while a caller's sentence has a date somewhere inside it,
//! and neither reads numbers as words ("the third of March", "in two weeks", "half past four", "twenty
//! twenty six"), which is how a recogniser writes them. Finding the span and reading the words is most of
//! the work, and it shares the number grammar in [`super::words`].
//!
//! Dates (value ISO `yyyy-mm-dd`):
//! - "today", "tonight", "tomorrow", "yesterday", "the day after tomorrow", "the day before yesterday".
//! - Weekdays: bare or "on Monday" is the coming one (1–7 days ahead); "this Monday" 0–6 days ahead;
//!   "next Monday" is the Monday of next week (so on a Wednesday "next Thursday" is eight days away,
//!   "next Tuesday" six); "last Monday" is the most recent one before today.
//! - "the third of March", "3rd of March", "3 March", "March 3rd", "March the third", "March 3", with an
//!   optional year ("2026", "twenty twenty six", "two thousand twenty six"). Without a year, the
//!   occurrence nearest today: said in late November, "the third of March" is next March, and "the
//!   twentieth of November" this one.
//! - "3/4/2026", "3/4/26" (US month/day/year), "2026-03-04". A bare "3/4" is left alone: it is as
//!   often a fraction.
//! - "in two weeks", "in a couple of days", "three days ago", "a week from today", "in a fortnight".
//!
//! Times (value 24-hour `HH:MM`): "3 pm", "3pm", "3:30 p.m.", "15:30", "noon", "midnight", "four
//! o'clock", "three thirty", "ten oh five", "half past four", "quarter to five", "ten past four",
//! "eight in the evening". With no am/pm, an hour from 1 to 6 is taken as afternoon (a support line's
//! callbacks and appointments are not at 3:30 in the morning) and given confidence 0.9; a bare hour
//! ("at four") is not read as a time, since it is as often a count.
//!
//! Not handled: "next week", "the weekend", "end of the month", "on the fifth" (no month), "Tuesday
//! next week", spelled cardinal days ("March three"), time zones.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

use super::words::{number, ordinal, small_number, teen_word, tens_word, unit_word, word, Token};
use super::{kind, Candidate, EntityValue};

/// Confidence of a time whose am/pm was guessed.
const GUESSED_MERIDIEM: f32 = 0.9;

pub(super) fn extract(tokens: &[Token], today: NaiveDate, out: &mut Vec<Candidate>) {
    let mut i = 0;
    while i < tokens.len() {
        if let Some((date, end)) = date_at(tokens, i, today) {
            let value = EntityValue::Date(date.format("%Y-%m-%d").to_string());
            out.push(Candidate::new(kind::DATE, value, tokens[i].start, tokens[end - 1].end));
            i = end;
        } else if let Some(t) = time_at(tokens, i) {
            let value = EntityValue::Time(format!("{:02}:{:02}", t.hour, t.minute));
            let candidate = Candidate::new(kind::TIME, value, tokens[i].start, tokens[t.end - 1].end);
            out.push(candidate.with_confidence(if t.guessed { GUESSED_MERIDIEM } else { 1.0 }));
            i = t.end;
        } else {
            i += 1;
        }
    }
}

// ---- Dates ----

/// The date starting at token `i` and the token after it.
fn date_at(tokens: &[Token], i: usize, today: NaiveDate) -> Option<(NaiveDate, usize)> {
    let w = word(tokens, i);
    let named = match w {
        "today" | "tonight" => Some(today),
        "tomorrow" => today.succ_opt(),
        "yesterday" => today.pred_opt(),
        _ => None,
    };
    if let Some(date) = named {
        return Some((date, i + 1));
    }
    // "the day after tomorrow", "day before yesterday"
    let k = if w == "the" { i + 1 } else { i };
    if word(tokens, k) == "day" {
        match (word(tokens, k + 1), word(tokens, k + 2)) {
            ("after", "tomorrow") => return Some((today.checked_add_days(Days::new(2))?, k + 3)),
            ("before", "yesterday") => return Some((today.checked_sub_days(Days::new(2))?, k + 3)),
            _ => {}
        }
    }
    relative(tokens, i, today)
        .or_else(|| weekday_date(tokens, i, today))
        .or_else(|| day_of_month(tokens, i, today))
        .or_else(|| month_then_day(tokens, i, today))
        .or_else(|| numeric_date(tokens[i].raw).map(|d| (d, i + 1)))
}

fn weekday(w: &str) -> Option<Weekday> {
    match w {
        "monday" => Some(Weekday::Mon),
        "tuesday" => Some(Weekday::Tue),
        "wednesday" => Some(Weekday::Wed),
        "thursday" => Some(Weekday::Thu),
        "friday" => Some(Weekday::Fri),
        "saturday" => Some(Weekday::Sat),
        "sunday" => Some(Weekday::Sun),
        _ => None,
    }
}

/// "next Tuesday", "last Monday", "this Friday", "this coming Friday", "Tuesday"; a date said right
/// after the weekday ("Tuesday the third of March") is the better reading and wins.
fn weekday_date(tokens: &[Token], i: usize, today: NaiveDate) -> Option<(NaiveDate, usize)> {
    let w = word(tokens, i);
    let (modifier, at) = match (w, word(tokens, i + 1)) {
        ("this", "coming") => ("coming", i + 2),
        ("next" | "last" | "this" | "coming" | "past", _) => (w, i + 1),
        _ => ("", i),
    };
    let day = weekday(word(tokens, at))?;
    if let Some(explicit) = day_of_month(tokens, at + 1, today).or_else(|| month_then_day(tokens, at + 1, today)) {
        return Some(explicit);
    }
    let from_monday = |d: Weekday| u64::from(d.num_days_from_monday());
    let ahead = (from_monday(day) + 7 - from_monday(today.weekday())) % 7; // 0..=6
    let date = match modifier {
        "last" | "past" => today.checked_sub_days(Days::new(if ahead == 0 { 7 } else { 7 - ahead }))?,
        "this" => today.checked_add_days(Days::new(ahead))?,
        "next" => {
            let coming = today.checked_add_days(Days::new(if ahead == 0 { 7 } else { ahead }))?;
            // "Next" skips a day still in this week: it names next week's.
            if coming.iso_week() == today.iso_week() {
                coming.checked_add_days(Days::new(7))?
            } else {
                coming
            }
        }
        _ => today.checked_add_days(Days::new(if ahead == 0 { 7 } else { ahead }))?,
    };
    Some((date, at + 1))
}

fn month(w: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    // Full names only: a recogniser writes them out, and "jan", "mar" or "dec" are as often other words.
    MONTHS.iter().position(|m| *m == w).map(|p| p as u32 + 1)
}

/// A day of the month as written with digits and no suffix: "3" in "3 March" or "March 3".
fn numeral_day(tokens: &[Token], i: usize) -> Option<(u64, usize)> {
    let w = word(tokens, i);
    let day = (w.len() <= 2).then(|| w.parse::<u64>().ok()).flatten()?;
    (1..=31).contains(&day).then_some((day, 1))
}

/// "the third of March", "3rd of March", "3 March", "the 21st of June 2027".
fn day_of_month(tokens: &[Token], i: usize, today: NaiveDate) -> Option<(NaiveDate, usize)> {
    // Not from the middle of a number: the "first" of "thirty first of February" is no date of its own.
    if i > 0 && tens_word(word(tokens, i - 1)).is_some() {
        return None;
    }
    let mut k = if word(tokens, i) == "the" { i + 1 } else { i };
    let (day, len) = ordinal(tokens, k).or_else(|| numeral_day(tokens, k))?;
    k += len;
    if word(tokens, k) == "of" {
        k += 1;
    }
    let month = month(word(tokens, k))?;
    calendar_date(tokens, k + 1, today, month, day)
}

/// "March 3rd", "March the third", "March 3", "March 3rd 2026".
fn month_then_day(tokens: &[Token], i: usize, today: NaiveDate) -> Option<(NaiveDate, usize)> {
    let month = month(word(tokens, i))?;
    let k = if word(tokens, i + 1) == "the" { i + 2 } else { i + 1 };
    let (day, len) = ordinal(tokens, k).or_else(|| numeral_day(tokens, k))?;
    calendar_date(tokens, k + len, today, month, day)
}

/// The date of `month` and `day`, reading an optional year at token `k`; without one, the occurrence
/// nearest today (so a date said near New Year lands in the right year either way).
fn calendar_date(tokens: &[Token], k: usize, today: NaiveDate, month: u32, day: u64) -> Option<(NaiveDate, usize)> {
    let day = u32::try_from(day).ok()?;
    if let Some((year, end)) = year_at(tokens, k) {
        return NaiveDate::from_ymd_opt(year, month, day).map(|d| (d, end));
    }
    let nearest = [today.year() - 1, today.year(), today.year() + 1]
        .into_iter()
        .filter_map(|y| NaiveDate::from_ymd_opt(y, month, day))
        .min_by_key(|d| (*d - today).num_days().abs())?;
    Some((nearest, k))
}

/// A year: "2026", "twenty twenty six", "nineteen ninety nine", "twenty oh five", "two thousand and
/// twenty six". Only 1900–2099, so "March 3rd 500 dollars" keeps its 500.
fn year_at(tokens: &[Token], k: usize) -> Option<(i32, usize)> {
    let w = word(tokens, k);
    let in_range = |y: u64| (1900..=2099).contains(&y).then_some(y as i32);
    if w.len() == 4 && w.bytes().all(|b| b.is_ascii_digit()) {
        return in_range(w.parse().ok()?).map(|y| (y, k + 1));
    }
    let century = match w {
        "nineteen" => 19,
        "twenty" => 20,
        "two" => {
            // "two thousand (and) twenty six"
            let n = number(tokens, k).filter(|n| n.spelled)?;
            return in_range(n.integer()?).map(|y| (y, k + n.len));
        }
        _ => return None,
    };
    let (rest, len) = if word(tokens, k + 1) == "oh" {
        (unit_word(word(tokens, k + 2)).filter(|u| *u > 0)?, 2)
    } else {
        small_number(tokens, k + 1).filter(|(v, _)| *v >= 10)?
    };
    in_range(century * 100 + rest).map(|y| (y, k + 1 + len))
}

/// "3/4/2026", "3/4/26" (US order) and "2026-03-04".
fn numeric_date(raw: &str) -> Option<NaiveDate> {
    let number_parts = |sep: char| -> Option<Vec<u32>> {
        let parts: Vec<&str> = raw.split(sep).collect();
        let ok = parts.len() == 3
            && parts.iter().all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()));
        ok.then(|| parts.iter().filter_map(|p| p.parse().ok()).collect())
    };
    if let Some(p) = number_parts('/') {
        let (m, d, y) = (*p.first()?, *p.get(1)?, *p.get(2)?);
        let year = match raw.rsplit('/').next()?.len() {
            2 => 2000 + y,
            4 => y,
            _ => return None,
        };
        return NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, m, d);
    }
    let p = number_parts('-')?;
    let (y, m, d) = (*p.first()?, *p.get(1)?, *p.get(2)?);
    let four_digit_year = raw.split('-').next()?.len() == 4;
    four_digit_year.then(|| NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)).flatten()
}

/// "in two weeks", "in a couple of days", "three days ago", "two weeks from now", "a week from today".
fn relative(tokens: &[Token], i: usize, today: NaiveDate) -> Option<(NaiveDate, usize)> {
    let ahead = word(tokens, i) == "in";
    let (count, k) = count_at(tokens, if ahead { i + 1 } else { i })?;
    let (months, days) = unit(word(tokens, k), count)?;
    let (forward, end) = match (ahead, word(tokens, k + 1), word(tokens, k + 2)) {
        (true, _, _) => (true, k + 1),
        (false, "ago", _) => (false, k + 2),
        (false, "from", "now" | "today") => (true, k + 3),
        _ => return None,
    };
    let date = if forward {
        today.checked_add_months(Months::new(months))?.checked_add_days(Days::new(days))?
    } else {
        today.checked_sub_months(Months::new(months))?.checked_sub_days(Days::new(days))?
    };
    Some((date, end))
}

/// How many: "a", "an", "a couple of", "two", "10". Value and the token after.
fn count_at(tokens: &[Token], i: usize) -> Option<(u32, usize)> {
    match (word(tokens, i), word(tokens, i + 1), word(tokens, i + 2)) {
        ("a" | "couple", "couple", "of") => return Some((2, i + 3)),
        ("couple", "of", _) => return Some((2, i + 2)),
        ("a" | "an", _, _) => return Some((1, i + 1)),
        _ => {}
    }
    let n = number(tokens, i)?;
    let count = u32::try_from(n.integer()?).ok().filter(|c| (1..=1000).contains(c))?;
    Some((count, i + n.len))
}

/// A unit of time as (months, days) for `count` of it.
fn unit(w: &str, count: u32) -> Option<(u32, u64)> {
    let days = |per: u64| Some((0, u64::from(count) * per));
    match w {
        "day" | "days" => days(1),
        "week" | "weeks" => days(7),
        "fortnight" | "fortnights" => days(14),
        "month" | "months" => Some((count, 0)),
        "year" | "years" => Some((count.checked_mul(12)?, 0)),
        _ => None,
    }
}

// ---- Times ----

struct TimeOfDay {
    hour: u32,
    minute: u32,
    /// Token after the time.
    end: usize,
    /// Whether am/pm was guessed rather than said.
    guessed: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Meridiem {
    Am,
    Pm,
}

/// "am", "a.m.", "pm", "p.m." (the tokenizer has trimmed the final dot).
fn meridiem_word(w: &str) -> Option<Meridiem> {
    match w {
        "am" | "a.m" => Some(Meridiem::Am),
        "pm" | "p.m" => Some(Meridiem::Pm),
        _ => None,
    }
}

/// am/pm said after a time at token `k`: "pm", "in the morning", "in the evening", "at night",
/// "tonight". Which, and the token after.
fn meridiem_after(tokens: &[Token], k: usize) -> Option<(Meridiem, usize)> {
    if let Some(m) = meridiem_word(word(tokens, k)) {
        return Some((m, k + 1));
    }
    match (word(tokens, k), word(tokens, k + 1), word(tokens, k + 2)) {
        ("in", "the", "morning") => Some((Meridiem::Am, k + 3)),
        ("in", "the", "afternoon" | "evening") => Some((Meridiem::Pm, k + 3)),
        ("at", "night", _) => Some((Meridiem::Pm, k + 2)),
        ("tonight", _, _) => Some((Meridiem::Pm, k + 1)),
        _ => None,
    }
}

/// The time starting at token `i`.
fn time_at(tokens: &[Token], i: usize) -> Option<TimeOfDay> {
    match word(tokens, i) {
        "noon" | "midday" => return Some(TimeOfDay { hour: 12, minute: 0, end: i + 1, guessed: false }),
        "midnight" => return Some(TimeOfDay { hour: 0, minute: 0, end: i + 1, guessed: false }),
        _ => {}
    }
    past_or_to(tokens, i).or_else(|| clock(tokens, i))
}

/// An hour from 1 to 12, in words or digits: "four", "4", "twelve".
fn hour_at(tokens: &[Token], i: usize) -> Option<u32> {
    let w = word(tokens, i);
    let h = unit_word(w).or_else(|| teen_word(w)).or_else(|| (w.len() <= 2).then(|| w.parse().ok()).flatten())?;
    (1..=12).contains(&h).then_some(h as u32)
}

/// Apply a said or guessed am/pm to a 12-hour clock hour.
fn finish(hour: u32, minute: u32, tokens: &[Token], k: usize) -> TimeOfDay {
    match meridiem_after(tokens, k) {
        Some((m, end)) => with_meridiem(hour, minute, m, end),
        None if (1..=6).contains(&hour) => TimeOfDay { hour: hour + 12, minute, end: k, guessed: true },
        None => TimeOfDay { hour, minute, end: k, guessed: false },
    }
}

/// "half past four", "quarter to five", "ten past four", "twenty five minutes to five".
fn past_or_to(tokens: &[Token], i: usize) -> Option<TimeOfDay> {
    let (minutes, mut k) = match (word(tokens, i), word(tokens, i + 1)) {
        ("half", _) => (30, i + 1),
        ("quarter", _) => (15, i + 1),
        ("a", "quarter") => (15, i + 2),
        _ => small_number(tokens, i).filter(|(m, _)| (1..=29).contains(m)).map(|(m, len)| (m as u32, i + len))?,
    };
    if matches!(word(tokens, k), "minutes" | "minute") {
        k += 1;
    }
    let forward = match word(tokens, k) {
        "past" | "after" => true,
        "to" | "till" | "before" => false,
        _ => return None,
    };
    let hour = hour_at(tokens, k + 1)?;
    let (hour, minute) = if forward { (hour, minutes) } else { (if hour == 1 { 12 } else { hour - 1 }, 60 - minutes) };
    Some(finish(hour, minute, tokens, k + 2))
}

/// Minutes said after an hour: "thirty", "forty five", "fifteen", "oh five". Value and tokens taken.
fn spoken_minutes(tokens: &[Token], k: usize) -> Option<(u32, usize)> {
    if word(tokens, k) == "oh" {
        return unit_word(word(tokens, k + 1)).filter(|u| *u > 0).map(|u| (u as u32, 2));
    }
    small_number(tokens, k).filter(|(m, _)| (10..=59).contains(m)).map(|(m, len)| (m as u32, len))
}

/// "3pm", "3 pm", "3:30 p.m.", "15:30", "four o'clock", "three thirty", "ten oh five pm".
fn clock(tokens: &[Token], i: usize) -> Option<TimeOfDay> {
    let w = word(tokens, i);
    // Written with a colon, perhaps with am/pm stuck on: "3:30", "15:30", "3:30pm".
    let (body, stuck) = split_meridiem(w);
    if let Some((h, m)) = body.split_once(':') {
        let hour: u32 = h.parse().ok().filter(|_| (1..=2).contains(&h.len()))?;
        let minute: u32 = m.parse().ok().filter(|_| m.len() == 2)?;
        if minute > 59 || hour > 23 {
            return None;
        }
        return Some(match stuck {
            Some(m) if (1..=12).contains(&hour) => with_meridiem(hour, minute, m, i + 1),
            Some(_) => return None,
            None if hour > 12 || hour == 0 => TimeOfDay { hour, minute, end: i + 1, guessed: false },
            None => finish(hour, minute, tokens, i + 1),
        });
    }
    // "3pm": a numeral hour with am/pm attached.
    if let Some(m) = stuck {
        let hour: u32 = body.parse().ok().filter(|h| (1..=12).contains(h) && body.len() <= 2)?;
        return Some(with_meridiem(hour, 0, m, i + 1));
    }
    let hour = hour_at(tokens, i)?;
    if matches!(word(tokens, i + 1), "o'clock" | "oclock") {
        return Some(finish(hour, 0, tokens, i + 2));
    }
    if let Some((m, end)) = meridiem_after(tokens, i + 1) {
        return Some(with_meridiem(hour, 0, m, end));
    }
    // "three thirty": only with minutes, and not when the words go on as a number ("three fifty
    // dollars", "three thirty four five" are not times).
    let (minute, len) = spoken_minutes(tokens, i + 1)?;
    let k = i + 1 + len;
    let next = word(tokens, k);
    let goes_on = number(tokens, k).is_some() || super::amount::is_money_word(next) || next == "percent";
    let after_number = i > 0 && number(tokens, i - 1).is_some_and(|n| n.len == 1);
    if goes_on || after_number {
        return None;
    }
    Some(finish(hour, minute, tokens, k))
}

/// A 12-hour clock time with its am/pm said.
fn with_meridiem(hour: u32, minute: u32, m: Meridiem, end: usize) -> TimeOfDay {
    let hour = match (m, hour) {
        (Meridiem::Am, 12) => 0,
        (Meridiem::Pm, h) if h < 12 => h + 12,
        (_, h) => h,
    };
    TimeOfDay { hour, minute, end, guessed: false }
}

/// "3pm" → ("3", pm); "3:30" → ("3:30", none).
fn split_meridiem(w: &str) -> (&str, Option<Meridiem>) {
    for suffix in ["a.m", "p.m", "am", "pm"] {
        if let Some(body) = w.strip_suffix(suffix) {
            if body.ends_with(|c: char| c.is_ascii_digit()) {
                return (body, meridiem_word(suffix));
            }
        }
    }
    (w, None)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{found, one, today};
    use super::super::{kind, EntityExtractor, EntityValue};

    fn date(iso: &str) -> Vec<(String, EntityValue)> {
        one(kind::DATE, EntityValue::Date(iso.to_string()))
    }

    fn time(hhmm: &str) -> Vec<(String, EntityValue)> {
        one(kind::TIME, EntityValue::Time(hhmm.to_string()))
    }

    #[test]
    fn named_days_count_from_today() {
        assert_eq!(found("today"), date("2026-11-25"));
        assert_eq!(found("can you do it tomorrow"), date("2026-11-26"));
        assert_eq!(found("it was yesterday"), date("2026-11-24"));
        assert_eq!(found("the day after tomorrow"), date("2026-11-27"));
    }

    #[test]
    fn weekdays_are_read_against_a_wednesday() {
        assert_eq!(found("next Tuesday"), date("2026-12-01"));
        // Thursday is still this week, so "next Thursday" is the one after.
        assert_eq!(found("next thursday"), date("2026-12-03"));
        assert_eq!(found("last Monday"), date("2026-11-23"));
        assert_eq!(found("on monday"), date("2026-11-30"));
        assert_eq!(found("this friday"), date("2026-11-27"));
        assert_eq!(found("on wednesday"), date("2026-12-02"));
    }

    #[test]
    fn day_and_month_in_either_order_with_the_nearest_year() {
        assert_eq!(found("the third of March"), date("2027-03-03"));
        assert_eq!(found("March 3rd"), date("2027-03-03"));
        assert_eq!(found("march the third"), date("2027-03-03"));
        assert_eq!(found("on the twentieth of november"), date("2026-11-20"));
        assert_eq!(found("march third twenty twenty six"), date("2026-03-03"));
        assert_eq!(found("3 March 2026"), date("2026-03-03"));
        assert_eq!(found("the twenty first of june two thousand and twenty seven"), date("2027-06-21"));
        assert!(found("the thirty first of february").iter().all(|(k, _)| k != kind::DATE));
    }

    #[test]
    fn numeric_dates_are_us_month_first() {
        assert_eq!(found("3/4/2026"), date("2026-03-04"));
        assert_eq!(found("on 12/25/26"), date("2026-12-25"));
        assert_eq!(found("2026-03-04"), date("2026-03-04"));
    }

    #[test]
    fn spans_of_time_from_today() {
        assert_eq!(found("in two weeks"), date("2026-12-09"));
        assert_eq!(found("three days ago"), date("2026-11-22"));
        assert_eq!(found("in a month"), date("2026-12-25"));
        assert_eq!(found("a week from today"), date("2026-12-02"));
    }

    #[test]
    fn times_with_am_pm_or_words() {
        assert_eq!(found("3 pm"), time("15:00"));
        assert_eq!(found("3pm"), time("15:00"));
        assert_eq!(found("at 3:30 p.m."), time("15:30"));
        assert_eq!(found("15:30"), time("15:30"));
        assert_eq!(found("noon"), time("12:00"));
        assert_eq!(found("ten oh five am"), time("10:05"));
        assert_eq!(found("quarter to five in the morning"), time("04:45"));
        assert_eq!(found("eight o'clock"), time("08:00"));
        assert_eq!(found("twelve am"), time("00:00"));
    }

    #[test]
    fn afternoon_is_guessed_for_early_hours_with_lower_confidence() {
        let said = EntityExtractor::default().extract("three thirty", today());
        assert_eq!(said[0].value, EntityValue::Time("15:30".into()));
        assert!(said[0].confidence < 1.0);
        assert_eq!(found("half past four"), time("16:30"));
    }

    #[test]
    fn a_date_and_a_time_together_are_two_entities() {
        let got = found("next tuesday at 3 pm");
        assert_eq!(got, [date("2026-12-01")[0].clone(), time("15:00")[0].clone()]);
    }

    #[test]
    fn numbers_that_go_on_are_not_times() {
        assert!(found("three fifty dollars").iter().all(|(k, _)| k != kind::TIME));
        assert!(found("at four").iter().all(|(k, _)| k != kind::TIME));
    }
}

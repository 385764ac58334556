//! Filling a slot from what the caller said: an entity of the asked kind, one of their own accounts
//! or cards ("the debit one", "ending one two three four", "no, the other card"), a yes or no, or
//! their words as they are.

use serde_json::{json, Value};

use super::actions::{account_label, card_label, money, status_text};
use super::flow::{Collect, FREE_TEXT};
use crate::nlu::entities::{kind, Entity, EntityValue};
use crate::nlu::Parse;
use crate::store::{Account, Card, CardStatus, Customer};

pub type Spec = Collect;

/// Confidence above which an utterance that also looks like a request is taken as that request,
/// not as free text for the slot (so "what are your opening hours" is not filed as a merchant name).
const REQUEST_OVER_FREE_TEXT: f32 = 0.8;

/// What an answer did to the pending question.
#[derive(Debug, Clone, PartialEq)]
pub enum Fill {
    /// A value for the slot.
    Value(Value),
    /// "Yes" to a confirmation.
    Confirmed,
    /// "No" to a confirmation, with nothing new said.
    Rejected,
    /// Not an answer.
    Nothing,
}

/// The caller's answer to the question the step asked.
pub fn fill(spec: &Spec, parse: &Parse, keyed: bool, options: &[Value]) -> Fill {
    if spec.options.is_some() {
        return choose(parse, options, None, true).map_or(Fill::Nothing, Fill::Value);
    }
    if spec.entity == kind::AFFIRM {
        return yes_no(parse).map_or(Fill::Nothing, |yes| Fill::Value(json!(if yes { "yes" } else { "no" })));
    }
    if spec.entity == FREE_TEXT {
        let words = parse.text.trim();
        let is_request = parse.intent.as_ref().is_some_and(|i| {
            i.confidence >= REQUEST_OVER_FREE_TEXT && !matches!(i.intent.as_str(), "affirm" | "deny" | "greet")
        });
        if words.chars().any(char::is_alphanumeric) && (keyed || !is_request) {
            return Fill::Value(json!(tidy(words)));
        }
        return Fill::Nothing;
    }
    if keyed {
        let digits: String = parse.text.chars().filter(char::is_ascii_digit).collect();
        if !digits.is_empty() {
            return Fill::Value(json!(digits));
        }
    }
    entity_value(parse, &spec.entity).map_or(Fill::Nothing, Fill::Value)
}

/// What the caller already said when the flow started ("I lost my debit card").
pub fn prefill(spec: &Spec, parse: &Parse, options: &[Value]) -> Option<Value> {
    if spec.options.is_some() {
        return choose(parse, options, None, false);
    }
    if spec.entity == FREE_TEXT || spec.entity == kind::AFFIRM {
        return None;
    }
    entity_value(parse, &spec.entity)
}

/// The caller's answer to "…, is that right?": yes, no, or a correction ("no, the other card").
pub fn confirmation(spec: &Spec, parse: &Parse, current: Option<&Value>, options: &[Value]) -> Fill {
    let corrected = if spec.options.is_some() {
        choose(parse, options, current, true)
    } else if spec.entity != FREE_TEXT && spec.entity != kind::AFFIRM {
        entity_value(parse, &spec.entity)
    } else {
        None
    };
    if let Some(value) = corrected.filter(|v| Some(v) != current) {
        return Fill::Value(value);
    }
    match yes_no(parse) {
        Some(true) => Fill::Confirmed,
        Some(false) => Fill::Rejected,
        None => Fill::Nothing,
    }
}

/// Yes or no, from the words ("yeah", "nope") or, failing that, a confident affirm/deny intent.
pub fn yes_no(parse: &Parse) -> Option<bool> {
    for entity in &parse.entities {
        match (entity.kind.as_str(), &entity.value) {
            (kind::AFFIRM, EntityValue::Bool(b)) | (kind::DENY, EntityValue::Bool(b)) => return Some(*b),
            (kind::AFFIRM, _) => return Some(true),
            (kind::DENY, _) => return Some(false),
            _ => {}
        }
    }
    match parse.intent.as_ref().filter(|i| i.confidence >= 0.5).map(|i| i.intent.as_str()) {
        Some("affirm") => Some(true),
        Some("deny") => Some(false),
        _ => None,
    }
}

/// The caller's choices for a step with `options:`, from their profile.
pub fn options(spec: &Spec, customer: Option<&Customer>) -> Vec<Value> {
    let (Some(source), Some(customer)) = (spec.options.as_deref(), customer) else { return Vec::new() };
    match source {
        "accounts" => customer.accounts.iter().map(account_option).collect(),
        "credit_accounts" => customer.accounts.iter().filter(|a| a.kind == "credit").map(account_option).collect(),
        "cards" => customer.cards.iter().map(card_option).collect(),
        "active_cards" => customer.cards.iter().filter(|c| c.status == CardStatus::Active).map(card_option).collect(),
        "inactive_cards" => {
            customer.cards.iter().filter(|c| c.status == CardStatus::Inactive).map(card_option).collect()
        }
        _ => Vec::new(),
    }
}

pub fn account_option(account: &Account) -> Value {
    json!({
        "id": account.id,
        "kind": account.kind,
        "last_four": account.last_four,
        "label": account_label(account),
        "balance": money(account.balance_cents.abs(), &account.currency),
    })
}

pub fn card_option(card: &Card) -> Value {
    json!({
        "id": card.id,
        "kind": card.kind,
        "brand": card.brand,
        "last_four": card.last_four,
        "status": status_text(card.status),
        "label": card_label(card),
    })
}

/// Which of `options` the caller means: by last four digits, by kind ("savings", "the credit card"),
/// by position ("the first one"), or "the other one" when there are two and one is `current`.
/// None when nothing, or more than one, fits.
fn choose(parse: &Parse, options: &[Value], current: Option<&Value>, positional: bool) -> Option<Value> {
    let field = |o: &Value, f: &str| o.get(f).and_then(Value::as_str).unwrap_or_default().to_lowercase();
    let unique = |matches: Vec<&Value>| if matches.len() == 1 { Some(matches[0].clone()) } else { None };
    for entity in &parse.entities {
        if let EntityValue::Text(text) = &entity.value {
            if matches!(entity.kind.as_str(), kind::CARD_LAST_FOUR | kind::DIGITS) {
                let digits: String = text.chars().filter(char::is_ascii_digit).collect();
                if let Some(found) = unique(options.iter().filter(|o| field(o, "last_four") == digits).collect()) {
                    return Some(found);
                }
            }
        }
        let said = entity_text(entity).to_lowercase();
        let by_kind: Vec<&Value> = options
            .iter()
            .filter(|o| {
                let kind = field(o, "kind");
                kind == said || said.starts_with(&kind) && !kind.is_empty() || field(o, "brand") == said
            })
            .collect();
        if let Some(found) = unique(by_kind) {
            return Some(found);
        }
    }
    if !positional {
        return None;
    }
    let words: Vec<String> = parse
        .text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect();
    let has = |w: &str| words.iter().any(|x| x == w);
    if has("other") || has("another") {
        if let (Some(current), 2) = (current, options.len()) {
            return options.iter().find(|o| *o != current).cloned();
        }
    }
    let position = if has("first") {
        Some(0)
    } else if has("second") {
        Some(1)
    } else if has("third") {
        Some(2)
    } else if has("last") && !has("four") {
        options.len().checked_sub(1)
    } else {
        None
    };
    if let Some(found) = position.and_then(|p| options.get(p)) {
        return Some(found.clone());
    }
    // Plain words naming a kind ("the debit one", "savings please") without a custom entity.
    unique(options.iter().filter(|o| has(&field(o, "kind")) || has(&field(o, "brand"))).collect())
}

fn entity_text(entity: &Entity) -> String {
    match &entity.value {
        EntityValue::Text(t) => t.clone(),
        _ => entity.text.clone(),
    }
}

/// The first entity of `wanted` kind, as a slot value.
fn entity_value(parse: &Parse, wanted: &str) -> Option<Value> {
    let entity = parse.entities.iter().find(|e| e.kind == wanted)?;
    Some(match &entity.value {
        EntityValue::Text(t) => json!(t),
        EntityValue::Number(n) => json!(n),
        EntityValue::Money { amount, currency } => {
            json!({"amount": amount, "currency": currency, "label": money((amount * 100.0).round() as i64, currency)})
        }
        EntityValue::Date(d) => {
            let label = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map(super::actions::day).unwrap_or(d.clone());
            json!({"date": d, "label": label})
        }
        EntityValue::Time(t) => json!(t),
        EntityValue::Bool(b) => json!(if *b { "yes" } else { "no" }),
    })
}

/// The caller's words as a slot value: trimmed, without a trailing full stop.
fn tidy(words: &str) -> String {
    words.trim().trim_end_matches(['.', '!']).to_string()
}

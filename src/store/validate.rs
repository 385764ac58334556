//! Rules every stored customer obeys, checked before anything is written (by any store, and by the
//! seed loader before it writes the first customer of a file).

use std::collections::{HashMap, HashSet};

use super::{Customer, StoreError};

/// A phone number as it is matched: its digits only, so "+1 (555) 123-4567" is "15551234567".
pub(crate) fn phone_digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

fn invalid(what: impl Into<String>, problem: impl Into<String>) -> StoreError {
    StoreError::Invalid { what: what.into(), problem: problem.into() }
}

/// An account or card: its id unique within the customer, its last four exactly four digits (what
/// agents and redacted transcripts refer to it by).
fn check_item<'a>(
    who: &str,
    seen: &mut HashSet<&'a str>,
    kind: &str,
    id: &'a str,
    last_four: &str,
) -> Result<(), StoreError> {
    if id.trim().is_empty() {
        return Err(invalid(who, format!("one of the {kind}s has an empty id")));
    }
    if !seen.insert(id) {
        return Err(invalid(who, format!("{kind} id {id} appears twice")));
    }
    if last_four.len() != 4 || !last_four.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            format!("{who}, {kind} {id}"),
            format!("last_four {last_four:?} must be exactly four digits"),
        ));
    }
    Ok(())
}

/// Everything about a customer that must hold before any of it is written.
pub(crate) fn check_customer(customer: &Customer) -> Result<(), StoreError> {
    let who = format!("customer {}", customer.id);
    if customer.id.trim().is_empty() {
        return Err(invalid("customer", "the id is empty; give every customer an id such as cust-jane"));
    }
    if customer.name.trim().is_empty() {
        return Err(invalid(who, "the name is empty"));
    }
    if !["voice", "sms", "email"].contains(&customer.preferred_channel.as_str()) {
        return Err(invalid(
            who,
            format!("preferred_channel {:?} is not allowed; use voice, sms or email", customer.preferred_channel),
        ));
    }
    let mut seen = HashMap::new();
    for number in &customer.phone_numbers {
        let digits = phone_digits(number);
        if digits.is_empty() {
            return Err(invalid(who, format!("phone number {number:?} has no digits; write it as +15551234567")));
        }
        if let Some(first) = seen.insert(digits, number) {
            return Err(invalid(who, format!("phone numbers {first:?} and {number:?} are the same number")));
        }
    }
    let mut accounts = HashSet::new();
    for account in &customer.accounts {
        check_item(&who, &mut accounts, "account", &account.id, &account.last_four)?;
        for posting in &account.transactions {
            if !posting.account_id.is_empty() && posting.account_id != account.id {
                return Err(invalid(
                    format!("{who}, transaction {}", posting.id),
                    format!(
                        "it is listed under account {} but names account {}; leave account_id out under an account",
                        account.id, posting.account_id
                    ),
                ));
            }
        }
    }
    let mut cards = HashSet::new();
    for card in &customer.cards {
        check_item(&who, &mut cards, "card", &card.id, &card.last_four)?;
        if let Some(account) = card.account_id.as_deref().filter(|a| !accounts.contains(a)) {
            return Err(invalid(
                format!("{who}, card {}", card.id),
                format!("account_id {account} is not one of this customer's accounts"),
            ));
        }
    }
    Ok(())
}

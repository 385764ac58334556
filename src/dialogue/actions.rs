//! Actions a flow runs: built-in ones on the embedded store, and the line's webhooks.
//!
//! An action takes its arguments as text (rendered templates) and returns a JSON object, its
//! `result`, whose fields flows read back in templates (`{result.balance}`). Results carry text
//! ready to be spoken (money as "$2,345.67", dates as "December 15"), so flows stay simple.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::{json, Value};

use super::line::Line;
use crate::store::{CardStatus, Customer, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("action {action}: argument `{name}` is missing or empty")]
    MissingArgument { action: String, name: String },
    #[error("action {action}: {what}")]
    NotFound { action: String, what: String },
    #[error("action {action} needs a recognised caller, and this caller is not recognised")]
    NoCustomer { action: String },
    #[error("action {action}: {source}")]
    Store { action: String, source: StoreError },
    #[error(transparent)]
    Webhook(#[from] super::webhook::WebhookError),
    #[error("action {0} is neither built in nor configured")]
    Unknown(String),
}

/// Run action `name` with `args` for `customer` (when the caller is recognised).
pub fn run(
    line: &Line,
    store: &dyn Store,
    name: &str,
    args: &BTreeMap<String, String>,
    customer: Option<&Customer>,
) -> Result<Value, ActionError> {
    if let Some(configured) = line.actions.get(name) {
        return match (&configured.webhook, &configured.fallback) {
            (Some(webhook), _) => Ok(webhook.call(&json!(args))?),
            (None, Some(fallback)) => built_in(store, fallback, args, customer),
            (None, None) => Err(ActionError::Unknown(name.into())),
        };
    }
    built_in(store, name, args, customer)
}

fn built_in(
    store: &dyn Store,
    name: &str,
    args: &BTreeMap<String, String>,
    customer: Option<&Customer>,
) -> Result<Value, ActionError> {
    let arg = |key: &str| {
        args.get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ActionError::MissingArgument { action: name.into(), name: key.into() })
    };
    let db = |source: StoreError| ActionError::Store { action: name.into(), source };
    let customer_or_fail = || customer.ok_or_else(|| ActionError::NoCustomer { action: name.into() });
    match name {
        "identify_customer" => {
            let phone = arg("phone")?;
            let mut found = store.customer_by_phone(phone).map_err(db)?;
            let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
            if found.is_none() && digits.len() == 10 {
                // Callers say their number without the country code; this line is in the US (+1).
                found = store.customer_by_phone(&format!("+1{digits}")).map_err(db)?;
            }
            Ok(match found {
                Some(found) => json!({"found": "yes", "customer_id": found.id, "name": found.name}),
                None => json!({"found": "no"}),
            })
        }
        "lookup_balance" => {
            let account = account(customer_or_fail()?, arg("account_id")?, name)?;
            Ok(json!({
                "balance": money(account.balance_cents.abs(), &account.currency),
                "balance_cents": account.balance_cents,
                "overdrawn": if account.balance_cents < 0 && account.kind != "credit" { "yes" } else { "no" },
            }))
        }
        "block_card" | "activate_card" => {
            let card_id = arg("card_id")?;
            let owned = customer_or_fail()?.cards.iter().any(|c| c.id == card_id);
            if !owned {
                return Err(ActionError::NotFound {
                    action: name.into(),
                    what: format!("the caller has no card {card_id}"),
                });
            }
            let status = if name == "block_card" { CardStatus::Blocked } else { CardStatus::Active };
            let card = store.set_card_status(card_id, status).map_err(db)?;
            Ok(json!({"status": status_text(card.status), "last_four": card.last_four}))
        }
        "recent_transactions" => {
            let account = account(customer_or_fail()?, arg("account_id")?, name)?;
            let count = args.get("count").and_then(|c| c.trim().parse().ok()).unwrap_or(3usize).clamp(1, 10);
            let transactions = store.recent_transactions(&account.id, count).map_err(db)?;
            let spoken: Vec<String> = transactions
                .iter()
                .map(|t| {
                    let amount = money(t.amount_cents.abs(), &account.currency);
                    let direction = if t.amount_cents < 0 { "to" } else { "from" };
                    format!("{}, {amount} {direction} {}", day(t.posted), t.description)
                })
                .collect();
            let summary = match spoken.len() {
                0 => format!("There are no recent transactions on your {}.", account_label(account)),
                n => format!(
                    "Your last {} on your {}: {}.",
                    if n == 1 { "transaction".to_string() } else { format!("{n} transactions") },
                    account_label(account),
                    spoken.join("; ")
                ),
            };
            Ok(json!({"count": spoken.len(), "summary": summary}))
        }
        "payment_due" => {
            let account = account(customer_or_fail()?, arg("account_id")?, name)?;
            let Some(due) = account.payment_due else {
                return Err(ActionError::NotFound {
                    action: name.into(),
                    what: format!("account {} has no payment due", account.id),
                });
            };
            Ok(json!({
                "due_date": day(due),
                "minimum_due": money(account.minimum_due_cents.unwrap_or(0), &account.currency),
                "balance": money(account.balance_cents.abs(), &account.currency),
            }))
        }
        "create_ticket" => {
            let customer = customer_or_fail()?;
            let kind = args.get("kind").map(String::as_str).unwrap_or("dispute");
            let summary = args
                .iter()
                .filter(|(k, _)| *k != "kind" && *k != "customer_id")
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let ticket = store.create_ticket(&customer.id, kind, &summary).map_err(db)?;
            Ok(json!({"ticket_id": spaced(&ticket.id), "status": ticket.status}))
        }
        "update_address" => {
            let customer = customer_or_fail()?;
            let address = arg("address")?;
            store.set_address(&customer.id, address).map_err(db)?;
            Ok(json!({"address": address}))
        }
        other => Err(ActionError::Unknown(other.into())),
    }
}

fn account<'a>(customer: &'a Customer, id: &str, action: &str) -> Result<&'a crate::store::Account, ActionError> {
    customer
        .accounts
        .iter()
        .find(|a| a.id == id)
        .ok_or_else(|| ActionError::NotFound { action: action.into(), what: format!("the caller has no account {id}") })
}

pub fn account_label(account: &crate::store::Account) -> String {
    let kind = if account.kind == "credit" { "credit card account" } else { &account.kind };
    format!("{kind} account ending {}", account.last_four).replace("account account", "account")
}

pub fn card_label(card: &crate::store::Card) -> String {
    format!("{} card ending {}", card.kind, card.last_four)
}

pub fn status_text(status: CardStatus) -> &'static str {
    match status {
        CardStatus::Active => "active",
        CardStatus::Blocked => "blocked",
        CardStatus::Inactive => "inactive",
    }
}

/// "$2,345.67" (the speech normaliser reads it as dollars and cents).
pub fn money(cents: i64, currency: &str) -> String {
    let symbol = match currency {
        "USD" => "$",
        "GBP" => "£",
        "EUR" => "€",
        _ => "",
    };
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let text = format!("{sign}{symbol}{grouped}.{:02}", cents % 100);
    if symbol.is_empty() {
        format!("{text} {currency}")
    } else {
        text
    }
}

/// "December 15": how a date is said on the phone.
pub fn day(date: NaiveDate) -> String {
    date.format("%B %-d").to_string()
}

/// A reference like "TCK-4821" read out in groups a caller can write down.
fn spaced(id: &str) -> String {
    id.replace('-', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_grouped_with_cents_and_sign() {
        assert_eq!(money(234_567, "USD"), "$2,345.67");
        assert_eq!(money(5, "USD"), "$0.05");
        assert_eq!(money(-51_240, "USD"), "-$512.40");
        assert_eq!(money(100_000_000, "GBP"), "£1,000,000.00");
        assert_eq!(money(1_000, "CHF"), "10.00 CHF");
    }

    #[test]
    fn dates_are_said_as_month_and_day() {
        assert_eq!(day(NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()), "December 5");
    }
}

//! `helpline queue list | claim | complete`: the agents' side of hand-offs, against the same store file
//! the line writes to (`helpline serve` and agents' shells may use it at once).

use std::path::PathBuf;

use anyhow::{bail, Result};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde_json::Value;

use helpline::store::{self, QueueEntry, QueueFilter, QueueStatus, SqliteStore, Store};

#[derive(Args)]
pub struct StoreArgs {
    /// The store file (default: $HELPLINE_STORE, else var/helpline.db).
    #[arg(long)]
    store: Option<PathBuf>,
    /// Print JSON instead of text (one object per line for `list`).
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum QueueCommand {
    /// The calls waiting for an agent, then those being handled (and with --all, those done).
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// Only this queue.
        #[arg(long)]
        queue: Option<String>,
        /// Include completed entries.
        #[arg(long)]
        all: bool,
    },
    /// Take a call: the one given by id, or the next one waiting; prints its hand-off packet.
    Claim {
        #[command(flatten)]
        store: StoreArgs,
        /// The entry to claim (default: the next one, by priority then age).
        id: Option<i64>,
        /// Who is taking it.
        #[arg(long)]
        agent: String,
        /// Only from this queue (when no id is given).
        #[arg(long, conflicts_with = "id")]
        queue: Option<String>,
        /// Skills the agent has; entries needing another skill are left for others (repeat for several).
        #[arg(long = "skill", value_name = "SKILL", conflicts_with = "id")]
        skills: Vec<String>,
    },
    /// Close a claimed call with what was done.
    Complete {
        #[command(flatten)]
        store: StoreArgs,
        id: i64,
        /// What came of it: resolved, callback, escalated, or any word the team uses.
        #[arg(long)]
        outcome: String,
        #[arg(long)]
        notes: Option<String>,
    },
}

fn open(args: &StoreArgs) -> Result<SqliteStore> {
    let path = args.store.clone().unwrap_or_else(store::default_path);
    Ok(SqliteStore::open(&path)?)
}

pub fn run(command: QueueCommand) -> Result<()> {
    match command {
        QueueCommand::List { store, queue, all } => {
            let entries = open(&store)?.queue_entries(&QueueFilter { queue: queue.clone(), include_completed: all })?;
            if store.json {
                for entry in &entries {
                    println!("{}", serde_json::to_string(entry)?);
                }
            } else if entries.is_empty() {
                println!("no calls {}", where_(queue.as_deref(), &[]));
            } else {
                print_table(&entries, Utc::now());
            }
        }
        QueueCommand::Claim { store, id, agent, queue, skills } => {
            let db = open(&store)?;
            let entry = match id {
                Some(id) => db.claim(id, &agent)?,
                None => match db.claim_next(&agent, queue.as_deref(), &skills)? {
                    Some(entry) => entry,
                    // Not an error of the store, but scripts must tell "got one" from "none": exit 1.
                    None => bail!("no call is waiting {}", where_(queue.as_deref(), &skills)),
                },
            };
            if store.json {
                println!("{}", serde_json::to_string_pretty(&entry)?);
            } else {
                print_claimed(&entry);
            }
        }
        QueueCommand::Complete { store, id, outcome, notes } => {
            let entry = open(&store)?.complete(id, &outcome, notes.as_deref())?;
            if store.json {
                println!("{}", serde_json::to_string_pretty(&entry)?);
            } else {
                let handled = match (entry.claimed_at, entry.completed_at) {
                    (Some(from), Some(to)) => format!(" after {} with {}", duration(from, to), who(&entry)),
                    _ => String::new(),
                };
                println!("completed entry {} ({}){handled}", entry.id, entry.outcome.as_deref().unwrap_or("-"));
            }
        }
    }
    Ok(())
}

fn where_(queue: Option<&str>, skills: &[String]) -> String {
    let mut text = match queue {
        Some(queue) => format!("in queue {queue}"),
        None => "in any queue".to_string(),
    };
    if !skills.is_empty() {
        text.push_str(&format!(" for skills {}", skills.join(", ")));
    }
    text
}

fn who(entry: &QueueEntry) -> &str {
    entry.claimed_by.as_deref().unwrap_or("nobody")
}

/// A packet's text field, if the packet has it (packets are JSON, written by the hand-off module).
fn text<'a>(packet: &'a Value, field: &str) -> Option<&'a str> {
    packet.get(field).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// "45s", "3m05s", "1h02m": how long a caller waited, at a glance.
fn duration(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    seconds((to - from).num_seconds().max(0) as u64)
}

fn seconds(total: u64) -> String {
    match total {
        0..60 => format!("{total}s"),
        60..3600 => format!("{}m{:02}s", total / 60, total % 60),
        _ => format!("{}h{:02}m", total / 3600, total % 3600 / 60),
    }
}

/// Cut to `width` characters, marking the cut.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn print_table(entries: &[QueueEntry], now: DateTime<Utc>) {
    println!(
        "{:>5}  {:<12} {:<12} {:>4}  {:<17} {:>3}  {:>7}  {:>8}  {:<14} SUMMARY",
        "ID", "QUEUE", "SKILL", "PRIO", "STATUS", "POS", "WAITED", "EST.WAIT", "CALLER"
    );
    for entry in entries {
        // How long the caller waited for a human: until now, or until an agent took the call.
        let waited = duration(entry.enqueued_at, entry.claimed_at.unwrap_or(now));
        let status = match entry.status {
            QueueStatus::Claimed => format!("{} ({})", entry.status, who(entry)),
            _ => entry.status.to_string(),
        };
        println!(
            "{:>5}  {:<12} {:<12} {:>4}  {:<17} {:>3}  {:>7}  {:>8}  {:<14} {}",
            entry.id,
            fit(&entry.queue, 12),
            fit(entry.skill.as_deref().unwrap_or("-"), 12),
            entry.priority,
            fit(&status, 17),
            entry.position.map_or("-".to_string(), |p| p.to_string()),
            waited,
            entry.estimated_wait_s.map_or("-".to_string(), seconds),
            fit(text(&entry.packet, "caller").unwrap_or("-"), 14),
            fit(text(&entry.packet, "summary").unwrap_or("-"), 80),
        );
    }
}

/// The hand-off packet as an agent reads it when picking up: who, what, why, what was said.
fn print_claimed(entry: &QueueEntry) {
    let packet = &entry.packet;
    let waited = entry.claimed_at.map(|at| duration(entry.enqueued_at, at)).unwrap_or_default();
    println!(
        "claimed entry {} for {} (queue {}, skill {}, priority {}); the caller waited {waited}",
        entry.id,
        who(entry),
        entry.queue,
        entry.skill.as_deref().unwrap_or("-"),
        entry.priority
    );
    let customer = packet.get("customer").filter(|c| !c.is_null());
    let name = customer.and_then(|c| text(c, "name"));
    let customer_id = customer.and_then(|c| text(c, "id"));
    let caller = text(packet, "caller").unwrap_or("unknown number");
    match (name, customer_id) {
        (Some(name), Some(id)) => println!("caller:     {name} ({id}), {caller}"),
        (Some(name), None) => println!("caller:     {name}, {caller}"),
        _ => println!("caller:     {caller} (not recognised)"),
    }
    println!("session:    {}", entry.session_id);
    if let Some(summary) = text(packet, "summary") {
        println!("summary:    {summary}");
    }
    let list = |field: &str| -> Vec<String> {
        packet
            .get(field)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .map(String::from)
            .collect()
    };
    let reasons = list("reasons");
    if !reasons.is_empty() {
        println!("reasons:    {}", reasons.join(", "));
    }
    if let Some(flow) = text(packet, "flow") {
        println!("flow:       {flow}");
    }
    if let Some(slots) = packet.get("slots").and_then(Value::as_object).filter(|s| !s.is_empty()) {
        let slots: Vec<String> = slots
            .iter()
            .map(|(name, value)| format!("{name} = {}", value.as_str().map_or_else(|| value.to_string(), String::from)))
            .collect();
        println!("slots:      {}", slots.join("; "));
    }
    if let Some(intents) = packet.get("intents").and_then(Value::as_array).filter(|i| !i.is_empty()) {
        let intents: Vec<String> = intents
            .iter()
            .filter_map(|i| Some(format!("{} {:.2}", text(i, "intent")?, i.get("confidence")?.as_f64()?)))
            .collect();
        println!("intents:    {}", intents.join(", "));
    }
    if let Some(turns) = packet.get("transcript").and_then(Value::as_array).filter(|t| !t.is_empty()) {
        println!("transcript:");
        for turn in turns {
            println!(
                "  {:<10} {}",
                format!("{}:", text(turn, "speaker").unwrap_or("?")),
                text(turn, "text").unwrap_or("")
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_at_a_glance() {
        assert_eq!(seconds(45), "45s");
        assert_eq!(seconds(185), "3m05s");
        assert_eq!(seconds(3720), "1h02m");
    }

    #[test]
    fn long_text_is_cut_with_a_mark() {
        assert_eq!(fit("short", 10), "short");
        assert_eq!(fit("a long summary", 6), "a lon…");
    }
}

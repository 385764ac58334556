//! `helpline chat` (the text channel of a line, in a terminal or driven by a script) and
//! `helpline test` (scripted conversations replayed against the real engine).

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;

use helpline::dialogue::script::{self, Script};
use helpline::dialogue::{CallerInput, Channel, Engine, Event, Line, SessionStart};
use helpline::models::ModelDir;
use helpline::nlu::encoder::SentenceEncoder;
use helpline::store::{self, SqliteStore, Store};

/// Who calls which line, and where the conversation is kept: shared by `chat` and `talk`.
#[derive(Args)]
pub struct CallerArgs {
    /// The line directory.
    #[arg(long, default_value = "lines/acme-bank")]
    pub line: PathBuf,
    /// The caller's phone number (a known customer is greeted by name).
    #[arg(long)]
    pub caller: Option<String>,
    /// The database (default: $HELPLINE_STORE or var/helpline.db).
    #[arg(long)]
    pub store: Option<PathBuf>,
}

#[derive(Args)]
pub struct ChatArgs {
    #[command(flatten)]
    pub who: CallerArgs,
    /// Continue a saved session (e.g. one started on a call) instead of starting a new one.
    #[arg(long)]
    pub session: Option<String>,
    /// Print one JSON event per line (reply, understood, action, handoff, ended).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct TestArgs {
    /// Conversation files (.yml) or directories of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The line directory.
    #[arg(long, default_value = "lines/acme-bank")]
    pub line: PathBuf,
    /// Print each conversation as it happened, not only the failures.
    #[arg(long, short)]
    pub verbose: bool,
    /// Print one JSON result per conversation.
    #[arg(long)]
    pub json: bool,
}

/// The store at `path` (or the default), seeded with the line's sample customers.
pub fn open_store(path: Option<&Path>, line: &Line) -> Result<Arc<dyn Store>> {
    let path = path.map(Path::to_path_buf).unwrap_or_else(store::default_path);
    let store = SqliteStore::open(&path).with_context(|| format!("opening the store {}", path.display()))?;
    if let Some(customers) = &line.customers {
        store::seed(&store, customers).with_context(|| format!("seeding customers from {}", customers.display()))?;
    }
    Ok(Arc::new(store))
}

/// The line at `dir`, loaded with the shared encoder (trains its intent model on first use).
pub fn load_line(models: &ModelDir, dir: &Path) -> Result<(Arc<SentenceEncoder>, Line)> {
    let encoder = Arc::new(SentenceEncoder::load(models)?);
    let line = Line::load(dir, encoder.clone(), models)?;
    Ok((encoder, line))
}

pub fn chat(models: &ModelDir, args: &ChatArgs) -> Result<()> {
    let (_, line) = load_line(models, &args.who.line)?;
    let store = open_store(args.who.store.as_deref(), &line)?;
    let engine = Engine::new(Arc::new(line), store);
    let (mut session, greeting) = match &args.session {
        Some(id) => (engine.resume(id)?, Vec::new()),
        None => engine.start(SessionStart {
            session_id: None,
            channel: Channel::Text,
            caller: args.who.caller.clone(),
            called: None,
            metadata: BTreeMap::new(),
        })?,
    };
    let interactive = std::io::stdin().is_terminal() && !args.json;
    if interactive {
        eprintln!(
            "session {} — type what a caller would say; /keys 1234# for keypad digits, /silence for no answer, /quit to hang up",
            session.id()
        );
    }
    print_events(&greeting, args.json)?;
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    while !session.is_finished() {
        if interactive {
            eprint!("you: ");
            std::io::stderr().flush()?;
        }
        let Some(line) = lines.next() else { break };
        let line = line.context("reading stdin")?;
        let input = match line.trim() {
            "/quit" | "/hangup" => break,
            "/silence" => CallerInput::NoInput,
            text if text.starts_with("/keys") => {
                CallerInput::Digits(text.trim_start_matches("/keys").trim().to_string())
            }
            text => CallerInput::Utterance { text: text.to_string(), asr_confidence: None },
        };
        let events = engine.turn(&mut session, input)?;
        print_events(&events, args.json)?;
    }
    if !session.is_finished() {
        let events = engine.hang_up(&mut session)?;
        print_events(&events, args.json)?;
    }
    Ok(())
}

fn print_events(events: &[Event], json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for event in events {
        if json {
            writeln!(out, "{}", serde_json::to_string(event)?)?;
            continue;
        }
        match event {
            Event::Reply(reply) => writeln!(out, "assistant: {}", reply.text)?,
            Event::Understood { parse, .. } => {
                let intent =
                    parse.intent.as_ref().map_or("none".to_string(), |i| format!("{} ({:.2})", i.intent, i.confidence));
                let entities: Vec<String> = parse.entities.iter().map(|e| format!("{}={}", e.kind, e.text)).collect();
                writeln!(
                    out,
                    "  [understood: {intent}{}{}]",
                    if parse.out_of_scope { ", out of scope" } else { "" },
                    if entities.is_empty() { String::new() } else { format!("; {}", entities.join(", ")) }
                )?
            }
            Event::Action { name, ok, detail } => writeln!(
                out,
                "  [action {name}: {}]",
                if *ok { "ok".to_string() } else { format!("failed: {detail}") }
            )?,
            Event::Handoff(ticket) => writeln!(
                out,
                "  [handed off to queue {} (entry {}, position {}): {}]",
                ticket.entry.queue,
                ticket.entry.id,
                ticket.entry.position.unwrap_or(0),
                ticket.packet.summary
            )?,
            Event::Ended { outcome, reason } => writeln!(out, "  [ended: {} — {reason}]", outcome.as_str())?,
        }
    }
    Ok(())
}

/// Replay every conversation; exit non-zero when any differs.
pub fn test(models: &ModelDir, args: &TestArgs) -> Result<()> {
    let mut files = Vec::new();
    for path in &args.paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("reading {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    if files.is_empty() {
        bail!("no conversation files (.yml) in {:?}", args.paths);
    }
    let scripts = files.iter().map(|f| Script::load(f)).collect::<Result<Vec<_>, _>>()?;
    let (encoder, line) = load_line(models, &args.line)?;
    let line = Arc::new(line);
    let started = Instant::now();
    let mut failed = 0;
    for (file, script) in files.iter().zip(&scripts) {
        let outcome = script::run_isolated(models, &encoder, &line, &args.line, script)?;
        if !outcome.passed() {
            failed += 1;
        }
        if args.json {
            println!("{}", serde_json::to_string(&outcome)?);
            continue;
        }
        println!("{} {} ({})", if outcome.passed() { "ok  " } else { "FAIL" }, outcome.name, file.display());
        if args.verbose || !outcome.passed() {
            for line in &outcome.transcript {
                println!("        {line}");
            }
        }
        for failure in &outcome.failures {
            println!("      ✗ {failure}");
        }
    }
    println!(
        "{} conversations: {} passed, {failed} failed in {:.1} s",
        scripts.len(),
        scripts.len() - failed,
        started.elapsed().as_secs_f64()
    );
    if failed > 0 {
        bail!("{failed} conversation(s) differ from their scripts");
    }
    Ok(())
}

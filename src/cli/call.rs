//! `helpline call`: place a call from recorded caller turns, as a phone line would, and print the
//! conversation with the latency the caller heard.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use helpline::audio::{self, Encoding};
use helpline::call::Pacing;
use helpline::models::ModelDir;
use helpline::service::wire;
use helpline::service::{CallPlan, CallerTurn, ClientEvent, ServeConfig, ServeOverrides};

#[derive(Args)]
pub struct CallArgs {
    /// The caller's turns in order: WAV recordings (any rate; one a turn), or dtmf:DIGITS for keys
    /// pressed (e.g. dtmf:4821#).
    #[arg(required = true, value_name = "TURN")]
    turns: Vec<String>,
    /// A running `helpline serve` (e.g. 127.0.0.1:50051); without it the server runs in this process
    /// on a free local port, over the same gRPC.
    #[arg(long)]
    server: Option<String>,
    /// Send audio in real time and play replies in real time, as a phone does (default: as fast as
    /// possible).
    #[arg(long)]
    realtime: bool,
    /// Audio encoding on the line, both ways.
    #[arg(long, value_enum, default_value = "mulaw")]
    encoding: Encoding,
    /// Sample rate on the line.
    #[arg(long, default_value_t = 8000, value_parser = parse_line_rate)]
    rate: u32,
    /// The caller's number (E.164), to be recognised as a customer.
    #[arg(long)]
    caller: Option<String>,
    /// Write everything the assistant said to this WAV (16-bit, the line's rate).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print one JSON object per event.
    #[arg(long)]
    json: bool,
    /// The line directory, for the in-process server (without --server) [default: lines/acme-bank].
    #[arg(long, conflicts_with = "server")]
    line: Option<PathBuf>,
}

fn parse_line_rate(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(rate @ (8_000 | 16_000)) => Ok(rate),
        _ => Err(format!("{text} is not a phone line rate; use 8000 or 16000")),
    }
}

fn turns(specs: &[String]) -> Result<Vec<CallerTurn>> {
    specs
        .iter()
        .map(|spec| match spec.strip_prefix("dtmf:") {
            Some(digits) => {
                let digits = wire::check_dtmf(digits).with_context(|| format!("turn {spec:?}"))?;
                Ok(CallerTurn::Dtmf(digits))
            }
            None => {
                let path = PathBuf::from(spec);
                let audio = audio::wav::read(&path)?;
                let source = path.file_name().map_or(spec.clone(), |n| n.to_string_lossy().into_owned());
                Ok(CallerTurn::Speech { source, audio })
            }
        })
        .collect()
}

fn print_human(event: &ClientEvent) {
    match event {
        ClientEvent::Connected { server, call_id } => println!("call {call_id} on {server}"),
        ClientEvent::CallerTurn { turn, source, audio_ms } if *audio_ms > 0 => {
            println!("\ncaller, turn {turn}: {source} ({:.1} s)", *audio_ms as f64 / 1000.0)
        }
        ClientEvent::CallerTurn { turn, source, .. } => println!("\ncaller, turn {turn}: {source}"),
        ClientEvent::FinalTranscript { text, confidence, .. } => {
            println!("  heard: \"{text}\" (confidence {confidence:.2})")
        }
        ClientEvent::Understood { intent, confidence, out_of_scope, entities, .. } => {
            let what = if *out_of_scope { "out of scope".to_string() } else { format!("{intent} ({confidence:.2})") };
            let entities = if entities.is_empty() { String::new() } else { format!(" [{}]", entities.join(", ")) };
            println!("  understood: {what}{entities}")
        }
        ClientEvent::ReplyText { text, .. } => println!("assistant: {text}"),
        ClientEvent::TurnLatency { latency_ms, .. } => println!("  (first reply audio after {latency_ms:.0} ms)"),
        ClientEvent::StopPlayback { reply_id, .. } => println!("  (reply {reply_id} stopped: barge-in)"),
        ClientEvent::Handoff { queue, queue_entry_id, position, estimated_wait_s, reasons, summary, .. } => {
            println!(
                "\nhanded off to queue {queue} (entry {queue_entry_id}, position {position}, about {estimated_wait_s} s); \
                 reasons: {}\n  summary: {summary}",
                reasons.join(", ")
            )
        }
        ClientEvent::Error { code, message, fatal, .. } => {
            println!("  server error ({code}{}): {message}", if *fatal { ", fatal" } else { "" })
        }
        ClientEvent::NoReply { turn, waited_ms } => {
            println!("  (no reply to turn {turn} after {:.1} s; going on)", *waited_ms as f64 / 1000.0)
        }
        ClientEvent::Ended { reason, turns, .. } => {
            println!("\ncall ended: {reason}");
            for (i, t) in turns.iter().enumerate() {
                println!(
                    "  server, turn {}: endpoint {:.0} ms, recognition {:.0} ms, understanding {:.0} ms, first synthesis {:.0} ms, first audio {:.0} ms",
                    i + 1,
                    t.endpoint_ms,
                    t.recognition_ms,
                    t.understanding_ms,
                    t.first_synthesis_ms,
                    t.first_audio_ms
                );
            }
        }
        _ => {}
    }
}

pub fn run(models: &ModelDir, args: CallArgs) -> Result<()> {
    let plan = CallPlan {
        caller: args.caller.clone(),
        encoding: args.encoding,
        sample_rate: args.rate,
        pacing: if args.realtime { Pacing::Realtime } else { Pacing::Fast },
        ..CallPlan::new(format!("helpline-call-{}", std::process::id()), turns(&args.turns)?)
    };
    let json = args.json;
    let print = move |event: &ClientEvent| {
        if json {
            // An event is plain data: serialising it cannot fail.
            println!("{}", serde_json::to_string(event).unwrap_or_default());
        } else {
            print_human(event);
        }
        let _ = std::io::stdout().flush();
    };
    let runtime = super::serve::runtime()?;
    let report = runtime.block_on(async {
        match &args.server {
            Some(server) => {
                let endpoint = if server.contains("://") { server.clone() } else { format!("http://{server}") };
                Ok(helpline::service::place_call(&endpoint, plan, print).await?)
            }
            None => {
                let config = ServeConfig::resolve(
                    None,
                    ServeOverrides { line: args.line.clone(), max_calls: Some(1), ..Default::default() },
                )?;
                let loading = config.clone();
                let models = models.clone();
                let assistant =
                    tokio::task::spawn_blocking(move || helpline::service::Assistant::load(&loading, &models))
                        .await??;
                let listener = helpline::service::bind("127.0.0.1:0".parse()?).await?;
                let server =
                    helpline::service::start(listener, assistant.switchboard, assistant.store, config.max_calls)
                        .await?;
                let report = helpline::service::place_call(&server.endpoint(), plan, print).await;
                server.shutdown().await?;
                anyhow::Ok(report?)
            }
        }
    })?;
    if let Some(out) = &args.out {
        audio::wav::write(out, &report.reply_audio, Encoding::S16le)?;
        if !json {
            println!("assistant audio ({:.1} s) written to {}", report.reply_seconds(), out.display());
        }
    }
    if report.end.is_none() {
        bail!("the server closed the call without CallEnded; see its log");
    }
    Ok(())
}

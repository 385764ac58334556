//! `helpline talk`: talk with a line through this computer's microphone and speaker (the `talk`
//! cargo feature; without it the command says how to build it).

use anyhow::Result;
use clap::Args;

use helpline::models::ModelDir;

#[derive(Args)]
pub struct TalkArgs {
    #[command(flatten)]
    pub who: super::chat::CallerArgs,
    /// You wear headphones: the microphone stays open while the assistant speaks, so you can interrupt
    /// it (without headphones it would hear itself).
    #[arg(long)]
    pub headphones: bool,
    /// Threads for recognition and synthesis together (default: every core).
    #[arg(long)]
    pub workers: Option<usize>,
}

#[cfg(feature = "talk")]
pub fn talk(models: &ModelDir, args: &TalkArgs) -> Result<()> {
    use std::io::Write;
    use std::sync::Arc;

    use helpline::call::talk::{talk, TalkOptions};
    use helpline::call::{CallOutput, Switchboard, SwitchboardConfig};
    use helpline::dialogue::Engine;

    let (_, line) = super::chat::load_line(models, &args.who.line)?;
    let store = super::chat::open_store(args.who.store.as_deref(), &line)?;
    let engine = Arc::new(Engine::new(Arc::new(line), store));
    let mut config = SwitchboardConfig::default();
    if let Some(workers) = args.workers {
        config.workers = workers;
    }
    let board = Arc::new(Switchboard::load(models, engine, config)?);
    let options = TalkOptions { headphones: args.headphones, caller: args.who.caller.clone() };
    eprintln!(
        "talking to {} (Ctrl-C hangs up){}",
        args.who.line.display(),
        if args.headphones {
            ""
        } else {
            "; the microphone is muted while the assistant speaks (--headphones to interrupt it)"
        }
    );
    let show = |output: &CallOutput| {
        let line = match output {
            CallOutput::PartialTranscript { text, .. } => {
                eprint!("\r  … {text}");
                let _ = std::io::stderr().flush();
                return;
            }
            CallOutput::FinalTranscript { text, confidence, .. } => format!("\r  you: {text}  ({confidence:.2})"),
            CallOutput::ReplyText { text, .. } => format!("  assistant: {text}"),
            CallOutput::StopPlayback { .. } => "  (interrupted)".to_string(),
            CallOutput::Handoff { ticket, .. } => format!("  (handed to an agent: queue {})", ticket.packet.queue),
            CallOutput::Error { message, .. } => format!("  error: {message}"),
            _ => return,
        };
        println!("{line}");
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let reason = runtime.block_on(talk(board, options, show))?;
    println!("call ended: {}", reason.as_str());
    Ok(())
}

#[cfg(not(feature = "talk"))]
pub fn talk(_models: &ModelDir, _args: &TalkArgs) -> Result<()> {
    anyhow::bail!(
        "this helpline was built without sound-card support; rebuild it with `cargo build --release --features \
         talk` (it needs the ALSA headers: `apt-get install libasound2-dev`, which scripts/setup.sh installs)"
    )
}

//! The `helpline` command line: the only place that knows about arguments, exit codes and printing.

mod cli;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use cli::models::ModelsAction;
use cli::speech::{SayArgs, TranscribeArgs};
use helpline::models::ModelDir;

#[derive(Parser)]
#[command(name = "helpline", version, about = "On-device voice assistant for phone customer support")]
struct Cli {
    /// Models directory (default: $HELPLINE_MODELS, ./models, or the repository's models/).
    #[arg(long, global = true)]
    models: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Transcribe recordings: WAV of any rate, depth and channel count, or raw telephone audio.
    Transcribe(TranscribeArgs),
    /// Speak text with the Piper voice into a WAV file, ready for a phone line.
    Say(SayArgs),
    /// Show, fetch or verify the models.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
    /// Train, try and measure the understanding of callers (intents, entities, sentiment).
    Nlu {
        #[command(subcommand)]
        command: cli::nlu::NluCommand,
    },
    /// Serve phone calls over gRPC (PhoneLine.Converse) and the agents' queue (AgentQueue).
    Serve(cli::serve::ServeArgs),
    /// Place a call from recorded caller turns, like a phone line, and print the conversation.
    Call(cli::call::CallArgs),
    /// Run a benchmark and write its rows into BENCHMARKS.md.
    Bench {
        #[command(subcommand)]
        suite: BenchSuite,
    },
    /// Talk to a line in the terminal (its text channel); reads one caller turn per line from a pipe.
    Chat(cli::chat::ChatArgs),
    /// Replay scripted conversations against a line and report where they differ.
    Test(cli::chat::TestArgs),
    /// The agents' side of hand-offs: list, claim and complete the calls waiting for a person.
    Queue {
        #[command(subcommand)]
        command: cli::queue::QueueCommand,
    },
    /// Talk to a line by voice through the microphone and speaker (built with `--features talk`).
    Talk(cli::talk::TalkArgs),
    /// The demo: transcribe a committed caller recording and speak a reply to it.
    Demo {
        /// Where to write the spoken reply.
        #[arg(short, long, default_value = "demo-reply.wav")]
        output: PathBuf,
    },
}

#[derive(Subcommand, Clone)]
enum BenchSuite {
    /// Intent accuracy, out-of-scope, calibration, training time and parse latency on the public sets.
    Nlu {
        /// The shared evaluation data folder (Banking77, CLINC150).
        #[arg(long, default_value = "../shared/data/nlu")]
        data: PathBuf,
    },
    /// Dialogue turn latency (text in → reply text out), replaying the scripted conversations.
    Dialogue {
        #[arg(long, default_value = "lines/acme-bank")]
        line: PathBuf,
        #[arg(long, default_value = "tests/conversations")]
        conversations: PathBuf,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Concurrent calls over real gRPC: turn latency at the client, server-side shares, memory.
    Calls {
        /// Concurrent calls to measure, e.g. 1,2,4,8 (or the flag repeated).
        #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 4, 8])]
        concurrency: Vec<usize>,
        /// Times each level is run (its turns are pooled): one call gives only three turns.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// Recognition and synthesis speed, accuracy and memory.
    Speech {
        /// Timed runs per measurement (after one warm-up).
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Models { action } => cli::models::run(cli.models.as_deref(), action),
        Command::Queue { command } => cli::queue::run(command),
        command => {
            let models = ModelDir::locate(cli.models.as_deref())?;
            match command {
                Command::Transcribe(args) => cli::speech::transcribe(&models, args),
                Command::Say(args) => cli::speech::say(&models, args),
                Command::Bench { suite: BenchSuite::Speech { runs } } => {
                    helpline::bench::speech(&models, runs, Path::new("BENCHMARKS.md"))
                }
                Command::Bench { suite: BenchSuite::Nlu { data } } => {
                    helpline::bench::nlu(&models, &data, Path::new("BENCHMARKS.md"))
                }
                Command::Bench { suite: BenchSuite::Dialogue { line, conversations, runs } } => {
                    helpline::bench::dialogue(&models, &line, &conversations, runs, Path::new("BENCHMARKS.md"))
                }
                Command::Serve(args) => cli::serve::run(&models, args),
                Command::Call(args) => cli::call::run(&models, args),
                Command::Bench { suite: BenchSuite::Calls { concurrency, rounds } } => {
                    helpline::bench::calls::calls(&models, &concurrency, rounds, Path::new("BENCHMARKS.md"))
                }
                Command::Demo { output } => cli::speech::demo(&models, &output),
                Command::Nlu { command } => cli::nlu::run(&models, command),
                Command::Chat(args) => cli::chat::chat(&models, &args),
                Command::Test(args) => cli::chat::test(&models, &args),
                Command::Talk(args) => cli::talk::talk(&models, &args),
                Command::Models { .. } | Command::Queue { .. } => unreachable!("handled above"),
            }
        }
    }
}

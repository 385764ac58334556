//! `helpline nlu train | parse | eval`: the line's understanding, trained and measured from the CLI.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Subcommand;

use helpline::models::ModelDir;
use helpline::nlu::classifier::TrainConfig;
use helpline::nlu::data::{TrainingData, WarningKind};
use helpline::nlu::encoder::SentenceEncoder;
use helpline::nlu::report;
use helpline::nlu::{self, Understanding};

#[derive(Subcommand)]
pub enum NluCommand {
    /// Train an intent model from YAML or JSONL training files.
    Train {
        /// Training files (.yml/.yaml or .jsonl with {"text","label"}); repeat for several.
        #[arg(long = "data", required = true)]
        data: Vec<PathBuf>,
        /// Held-out files that calibrate confidence and pick the out-of-scope threshold
        /// (default: 10 % held out from the training data).
        #[arg(long = "validation")]
        validation: Vec<PathBuf>,
        /// Where to write the model directory.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = TrainConfig::default().epochs)]
        epochs: usize,
    },
    /// Understand one utterance.
    Parse {
        #[arg(long)]
        model: PathBuf,
        text: String,
        #[arg(long)]
        json: bool,
    },
    /// Measure a model on labelled data, or cross-validate a training file with --folds.
    Eval {
        /// The model to measure (not with --folds).
        #[arg(long, required_unless_present = "folds")]
        model: Option<PathBuf>,
        #[arg(long = "data", required = true)]
        data: Vec<PathBuf>,
        /// Cross-validate: train and test on k stratified folds of --data.
        #[arg(long)]
        folds: Option<usize>,
        #[arg(long)]
        json: bool,
        /// Write confusion matrix (CSV, PNG), reliability diagram, per-intent table and errors here.
        #[arg(long)]
        report: Option<PathBuf>,
    },
}

pub fn run(models: &ModelDir, command: NluCommand) -> Result<()> {
    match command {
        NluCommand::Train { data, validation, out, epochs } => train(models, &data, &validation, &out, epochs),
        NluCommand::Parse { model, text, json } => parse(models, &model, &text, json),
        NluCommand::Eval { model, data, folds, json, report } => {
            eval(models, model.as_deref(), &data, folds, json, report.as_deref())
        }
    }
}

/// Load labelled files; `for_training` decides whether too few examples per intent is worth a warning.
fn load_data(paths: &[PathBuf], for_training: bool) -> Result<TrainingData> {
    let (data, warnings) = TrainingData::load_all(paths)?;
    for warning in warnings.iter().filter(|w| for_training || w.kind != WarningKind::FewExamples) {
        eprintln!("warning: {}:{}: {}", warning.location.file.display(), warning.location.line, warning.message);
    }
    Ok(data)
}

fn progress_bar() -> impl FnMut(&str, usize, usize) {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:32} [{bar:30}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    move |stage: &str, done: usize, total: usize| {
        if bar.message() != stage {
            bar.set_message(stage.to_string());
            bar.set_length(total as u64);
        }
        bar.set_position(done as u64);
        if done >= total && stage.starts_with("training") {
            bar.finish_and_clear();
        }
    }
}

fn train(models: &ModelDir, data: &[PathBuf], validation: &[PathBuf], out: &Path, epochs: usize) -> Result<()> {
    let started = Instant::now();
    let training = load_data(data, true)?;
    let validation = if validation.is_empty() { None } else { Some(load_data(validation, false)?) };
    let encoder = SentenceEncoder::load(models)?;
    let config = TrainConfig { epochs, ..Default::default() };
    let classifier = nlu::train(&encoder, &training, validation.as_ref(), &config, &mut progress_bar())?;
    nlu::save(&classifier, &training, out)?;
    println!(
        "trained {} intents on {} examples in {:.1} s (temperature {:.2}, out-of-scope threshold {:.2}); model in {}",
        classifier.meta.labels.len(),
        training.examples.len(),
        started.elapsed().as_secs_f64(),
        classifier.meta.temperature,
        classifier.meta.threshold,
        out.display()
    );
    Ok(())
}

fn parse(models: &ModelDir, model: &Path, text: &str, json: bool) -> Result<()> {
    let understanding = Understanding::load(Arc::new(SentenceEncoder::load(models)?), model)?;
    let parse = understanding.parse(text)?;
    if json {
        println!("{}", serde_json::to_string(&parse)?);
        return Ok(());
    }
    match (&parse.intent, parse.out_of_scope) {
        (Some(top), _) => println!("intent: {} ({:.2})", top.intent, top.confidence),
        (None, true) => println!("intent: none — out of scope"),
        (None, false) => println!("intent: none — nothing to understand"),
    }
    for alternative in parse.intents.iter().skip(1) {
        println!("        {} ({:.2})", alternative.intent, alternative.confidence);
    }
    for entity in &parse.entities {
        println!("entity: {} = {} ({:?})", entity.kind, serde_json::to_string(&entity.value)?, entity.text);
    }
    println!(
        "sentiment: {:+.2}{}{}",
        parse.sentiment.score,
        if parse.sentiment.frustration { ", frustrated" } else { "" },
        if parse.sentiment.wants_human { ", asks for a person" } else { "" }
    );
    for warning in &parse.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

fn eval(
    models: &ModelDir,
    model: Option<&Path>,
    data: &[PathBuf],
    folds: Option<usize>,
    json: bool,
    report_dir: Option<&Path>,
) -> Result<()> {
    let data = load_data(data, folds.is_some())?;
    let encoder = Arc::new(SentenceEncoder::load(models)?);
    let predictions = match (folds, model) {
        (Some(k), _) => {
            if k < 2 {
                bail!("--folds needs at least 2 folds");
            }
            let mut all = Vec::new();
            for (i, (fit, test)) in data.folds(k, 7).into_iter().enumerate() {
                eprintln!(
                    "fold {}/{k}: training on {} examples, testing on {}",
                    i + 1,
                    fit.examples.len(),
                    test.examples.len()
                );
                let classifier = nlu::train(&encoder, &fit, None, &TrainConfig::default(), &mut |_, _, _| {})?;
                let dir = std::env::temp_dir().join(format!("helpline-fold-{}-{i}", std::process::id()));
                nlu::save(&classifier, &fit, &dir)?;
                let understanding = Understanding::load(Arc::clone(&encoder), &dir)?;
                all.extend(nlu::predict_all(&understanding, &test)?);
                let _ = std::fs::remove_dir_all(&dir);
            }
            all
        }
        (None, Some(model)) => nlu::predict_all(&Understanding::load(Arc::clone(&encoder), model)?, &data)?,
        (None, None) => bail!("give --model DIR, or --folds K to cross-validate the data"),
    };
    let evaluation = report::evaluate(&predictions);
    if let Some(dir) = report_dir {
        let written = report::write_report(&evaluation, &predictions, dir)
            .with_context(|| format!("writing the report to {}", dir.display()))?;
        for path in written {
            eprintln!("wrote {}", path.display());
        }
    }
    if json {
        println!("{}", serde_json::to_string(&evaluation)?);
    } else {
        println!("{}", report::format_table(&evaluation));
    }
    Ok(())
}

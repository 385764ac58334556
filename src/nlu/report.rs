//! Scoring an intent classifier with out-of-scope detection, and the report `helpline nlu eval` writes.
//!
//! [`evaluate`] turns one [`Prediction`] per test utterance into an [`Evaluation`]: accuracy, macro-F1,
//! per-intent precision / recall / F1, how well out-of-scope callers are caught, calibration (expected
//! calibration error and its reliability bins), latency and the most confused intent pairs.
//! [`write_report`] saves it as CSV, JSON Lines, JSON and two PNG charts; [`format_table`] is the terminal
//! summary. Knows nothing of models: it only compares labels, confidences and timings.
//!
//! Charts are drawn in pure Rust with `plotters`. Its text needs a font, and the one used here (Hack, a
//! DejaVu Sans Mono derivative) is compiled in from `epaint_default_fonts`, so drawing a report needs no
//! system font, fontconfig or freetype.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::register_font;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::{Deserialize, Serialize};

/// The label that `gold` and `predicted` use for an utterance no intent covers.
pub const OUT_OF_SCOPE: &str = "oos";

/// Ten equal-width bins is the usual choice for ECE (Guo et al., 2017), so numbers compare across papers;
/// more bins leave too few utterances per bin on a test set of a few thousand.
const CALIBRATION_BINS: usize = 10;
/// Ten pairs fit a terminal screen and cover most errors of a reasonable model.
const TOP_CONFUSED_PAIRS: usize = 10;
/// How many of the weakest intents the terminal summary lists.
const WORST_INTENTS_SHOWN: usize = 10;

/// Up to this many labels the heat map shows the whole matrix: 40 cells of 22 px still fit one screen.
const FULL_HEATMAP_MAX_LABELS: usize = 40;
/// Never draw more labels than this (CLINC150 has 150 intents plus out-of-scope); past it the image would
/// be too large to open comfortably, and the full matrix is in `confusion.csv` anyway.
const HEATMAP_MAX_LABELS: usize = 160;
/// Longer intent names are cut in charts and tables so one odd name cannot eat the plot.
const LABEL_MAX_CHARS: usize = 40;

/// Registered under plotters' default family name, so its own defaults (axis labels, captions) find it.
const FONT_FAMILY: &str = "sans-serif";

/// What the classifier said about one evaluation utterance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub text: String,
    /// The annotated intent, or [`OUT_OF_SCOPE`].
    pub gold: String,
    /// The classifier's intent, or [`OUT_OF_SCOPE`] when it rejected the utterance.
    pub predicted: String,
    /// The classifier's confidence in `predicted`, in 0..=1; calibration compares it with how often
    /// `predicted` is right.
    pub confidence: f32,
    pub latency_ms: f64,
}

impl Prediction {
    pub fn is_correct(&self) -> bool {
        self.gold == self.predicted
    }
}

/// Every number `helpline nlu eval` reports, as written to `summary.json`.
///
/// The out-of-scope rates are `None` when their denominator is empty, as it is in real test sets (Banking77
/// has no out-of-scope utterances; a model may reject nothing): a 0 or 1 there would mislead. Every other
/// rate is 0 when it has nothing to count, which only happens on degenerate input that `counts` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub counts: Counts,
    /// Share of predictions equal to gold, out-of-scope counted as one more class.
    pub accuracy: f64,
    /// Unweighted mean F1 over the in-scope intents that occur as gold or as prediction.
    ///
    /// Out-of-scope is left out because it is reported on its own (`oos_recall`, `oos_precision`) and, as
    /// the largest class of most test sets, would otherwise dominate. Intents that occur only as
    /// predictions are kept (with F1 0) so a model is charged for inventing them; intents in neither are
    /// unknown here and cannot count.
    pub macro_f1: f64,
    /// Over utterances whose gold is an intent: share predicted as exactly that intent (0 when there are
    /// none, which `counts.in_scope` shows).
    pub in_scope_accuracy: f64,
    /// Share of out-of-scope utterances that were rejected; `None` when gold has no out-of-scope.
    pub oos_recall: Option<f64>,
    /// Share of rejections that were out-of-scope; `None` when nothing was rejected.
    pub oos_precision: Option<f64>,
    /// Expected calibration error: over [`CALIBRATION_BINS`] equal-width confidence bins, the mean of
    /// |accuracy − mean confidence| weighted by each bin's share of predictions.
    pub ece: f64,
    /// The bins behind `ece`, lowest confidence first.
    pub reliability: Vec<ReliabilityBin>,
    /// Latency percentiles by nearest rank (a latency that was measured, never an interpolation).
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
    /// One row per label seen as gold or prediction, out-of-scope included, sorted by name.
    pub per_intent: Vec<IntentMetrics>,
    /// Most frequent errors (gold → predicted), most frequent first, at most [`TOP_CONFUSED_PAIRS`].
    pub confused_pairs: Vec<ConfusedPair>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub predictions: usize,
    pub correct: usize,
    /// Utterances whose gold is an intent.
    pub in_scope: usize,
    /// Utterances whose gold is [`OUT_OF_SCOPE`].
    pub out_of_scope: usize,
    /// Utterances the classifier rejected as out-of-scope.
    pub predicted_out_of_scope: usize,
    /// In-scope intents averaged in `macro_f1`.
    pub intents: usize,
}

/// Precision, recall and F1 of one label. A ratio with nothing to divide by is 0 (scikit-learn's
/// `zero_division=0`): an intent never predicted has precision 0, one never in gold has recall 0.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntentMetrics {
    pub intent: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Utterances with this gold label.
    pub support: usize,
}

/// One bar of the reliability diagram: predictions with `lower <= confidence < upper` (the top bin
/// includes 1.0). `accuracy` and `mean_confidence` are `None` for an empty bin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReliabilityBin {
    pub lower: f64,
    pub upper: f64,
    pub count: usize,
    pub accuracy: Option<f64>,
    pub mean_confidence: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfusedPair {
    pub gold: String,
    pub predicted: String,
    pub count: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot create the report directory {path}: {source}; choose a writable directory")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source}; check that the directory is writable and the disk not full")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot encode {path} as JSON: {source}")]
    Json { path: PathBuf, source: serde_json::Error },
    #[error("cannot draw {path}: {message}; check that the directory is writable and the disk not full")]
    Plot { path: PathBuf, message: String },
    #[error("the chart font compiled into Helpline could not be loaded; this is a bug, please report it")]
    Font,
}

/// Scores `predictions`; see [`Evaluation`] for what each number means. Never panics, whatever the input
/// (empty lists, NaN confidences or latencies).
pub fn evaluate(predictions: &[Prediction]) -> Evaluation {
    let confusion = Confusion::new(predictions);
    let total = predictions.len();
    let correct = predictions.iter().filter(|p| p.is_correct()).count();
    let in_scope: Vec<&Prediction> = predictions.iter().filter(|p| p.gold != OUT_OF_SCOPE).collect();
    let in_scope_correct = in_scope.iter().filter(|p| p.is_correct()).count();
    let out_of_scope = total - in_scope.len();
    let predicted_out_of_scope = predictions.iter().filter(|p| p.predicted == OUT_OF_SCOPE).count();
    let rejected_correctly = predictions.iter().filter(|p| p.is_correct() && p.gold == OUT_OF_SCOPE).count();

    let mut per_intent: Vec<IntentMetrics> = (0..confusion.labels.len()).map(|i| confusion.metrics(i)).collect();
    per_intent.sort_by(|a, b| a.intent.cmp(&b.intent));
    let in_scope_f1: Vec<f64> = per_intent.iter().filter(|m| m.intent != OUT_OF_SCOPE).map(|m| m.f1).collect();

    let (reliability, ece) = reliability(predictions);
    let latencies = sorted_latencies(predictions);

    Evaluation {
        counts: Counts {
            predictions: total,
            correct,
            in_scope: in_scope.len(),
            out_of_scope,
            predicted_out_of_scope,
            intents: in_scope_f1.len(),
        },
        accuracy: ratio(correct, total).unwrap_or(0.0),
        macro_f1: mean(&in_scope_f1).unwrap_or(0.0),
        in_scope_accuracy: ratio(in_scope_correct, in_scope.len()).unwrap_or(0.0),
        oos_recall: ratio(rejected_correctly, out_of_scope),
        oos_precision: ratio(rejected_correctly, predicted_out_of_scope),
        ece,
        reliability,
        p50_ms: nearest_rank(&latencies, 50.0),
        p95_ms: nearest_rank(&latencies, 95.0),
        max_ms: latencies.last().copied().unwrap_or(0.0),
        per_intent,
        confused_pairs: confusion.top_errors(TOP_CONFUSED_PAIRS),
    }
}

/// The counts of (gold, predicted) label pairs; the one place labels are indexed, so metrics, CSV and
/// heat map agree on order.
struct Confusion {
    /// Sorted by name, with out-of-scope last so the "none of the above" row and column stand apart.
    labels: Vec<String>,
    /// `cells[gold][predicted]`.
    cells: Vec<Vec<usize>>,
}

impl Confusion {
    fn new(predictions: &[Prediction]) -> Self {
        let names: BTreeSet<&str> = predictions.iter().flat_map(|p| [p.gold.as_str(), p.predicted.as_str()]).collect();
        let mut labels: Vec<String> = names.into_iter().map(str::to_owned).collect();
        labels.sort_by_key(|label| label == OUT_OF_SCOPE); // stable: the rest stays alphabetical
        let index: HashMap<&str, usize> = labels.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
        let mut cells = vec![vec![0; labels.len()]; labels.len()];
        for p in predictions {
            if let (Some(&g), Some(&q)) = (index.get(p.gold.as_str()), index.get(p.predicted.as_str())) {
                cells[g][q] += 1;
            }
        }
        Confusion { labels, cells }
    }

    fn row_total(&self, gold: usize) -> usize {
        self.cells[gold].iter().sum()
    }

    fn column_total(&self, predicted: usize) -> usize {
        self.cells.iter().map(|row| row[predicted]).sum()
    }

    fn metrics(&self, label: usize) -> IntentMetrics {
        let hits = self.cells[label][label];
        let support = self.row_total(label);
        let precision = ratio(hits, self.column_total(label)).unwrap_or(0.0);
        let recall = ratio(hits, support).unwrap_or(0.0);
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        IntentMetrics { intent: self.labels[label].clone(), precision, recall, f1, support }
    }

    /// Misclassifications touching each label, as gold or as prediction.
    fn errors_per_label(&self) -> Vec<usize> {
        let mut errors = vec![0; self.labels.len()];
        for (g, row) in self.cells.iter().enumerate() {
            for (q, &count) in row.iter().enumerate() {
                if g != q {
                    errors[g] += count;
                    errors[q] += count;
                }
            }
        }
        errors
    }

    fn top_errors(&self, limit: usize) -> Vec<ConfusedPair> {
        let mut pairs: Vec<ConfusedPair> = Vec::new();
        for (g, row) in self.cells.iter().enumerate() {
            for (q, &count) in row.iter().enumerate() {
                if g != q && count > 0 {
                    pairs.push(ConfusedPair { gold: self.labels[g].clone(), predicted: self.labels[q].clone(), count });
                }
            }
        }
        // Ties broken by name so the report is identical from run to run.
        pairs.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| (&a.gold, &a.predicted).cmp(&(&b.gold, &b.predicted))));
        pairs.truncate(limit);
        pairs
    }
}

fn ratio(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The reliability bins and the ECE computed from them.
fn reliability(predictions: &[Prediction]) -> (Vec<ReliabilityBin>, f64) {
    let mut count = [0usize; CALIBRATION_BINS];
    let mut correct = [0usize; CALIBRATION_BINS];
    let mut confidence_sum = [0f64; CALIBRATION_BINS];
    for p in predictions {
        // A NaN confidence is a classifier bug; putting it in the lowest bin keeps it visible, not dropped.
        let confidence = if p.confidence.is_nan() { 0.0 } else { f64::from(p.confidence).clamp(0.0, 1.0) };
        // Bins are [lower, upper); the cast truncates, and 1.0 joins the top bin instead of an 11th.
        let bin = ((confidence * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
        count[bin] += 1;
        correct[bin] += usize::from(p.is_correct());
        confidence_sum[bin] += confidence;
    }
    let total = predictions.len();
    let mut ece = 0.0;
    let bins = (0..CALIBRATION_BINS)
        .map(|b| {
            let accuracy = ratio(correct[b], count[b]);
            let mean_confidence = (count[b] > 0).then(|| confidence_sum[b] / count[b] as f64);
            if let (Some(acc), Some(conf), Some(share)) = (accuracy, mean_confidence, ratio(count[b], total)) {
                ece += share * (acc - conf).abs();
            }
            ReliabilityBin {
                lower: b as f64 / CALIBRATION_BINS as f64,
                upper: (b + 1) as f64 / CALIBRATION_BINS as f64,
                count: count[b],
                accuracy,
                mean_confidence,
            }
        })
        .collect();
    (bins, ece)
}

/// Finite latencies, ascending; a NaN or infinite timing is a measurement bug and would poison the maximum.
fn sorted_latencies(predictions: &[Prediction]) -> Vec<f64> {
    let mut latencies: Vec<f64> = predictions.iter().map(|p| p.latency_ms).filter(|l| l.is_finite()).collect();
    latencies.sort_by(f64::total_cmp);
    latencies
}

/// The smallest value with at least `percent`% of values at or below it; 0 for no values.
fn nearest_rank(sorted: &[f64], percent: f64) -> f64 {
    let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied().unwrap_or(0.0)
}

/// The terminal summary: headline metrics, the weakest intents and the most confused pairs.
pub fn format_table(evaluation: &Evaluation) -> String {
    let counts = &evaluation.counts;
    if counts.predictions == 0 {
        return "Intent classification: no predictions were evaluated.".to_owned();
    }
    let mut lines = vec![
        format!(
            "Intent classification: {} utterances ({} in scope, {} out of scope), {} intents",
            counts.predictions, counts.in_scope, counts.out_of_scope, counts.intents
        ),
        format!(
            "  accuracy           {:.3}   {} of {} correct",
            evaluation.accuracy, counts.correct, counts.predictions
        ),
        format!("  macro F1           {:.3}   mean over in-scope intents", evaluation.macro_f1),
        format!("  in-scope accuracy  {}", format!("{:.3}", evaluation.in_scope_accuracy)),
        format!("  OOS recall         {}   out-of-scope callers rejected", optional(evaluation.oos_recall)),
        format!("  OOS precision      {}   rejections that were out of scope", optional(evaluation.oos_precision)),
        format!("  ECE                {:.3}   over {CALIBRATION_BINS} confidence bins", evaluation.ece),
        format!(
            "  latency            p50 {:.1} ms   p95 {:.1} ms   max {:.1} ms",
            evaluation.p50_ms, evaluation.p95_ms, evaluation.max_ms
        ),
    ];

    let mut worst: Vec<&IntentMetrics> = evaluation.per_intent.iter().filter(|m| m.intent != OUT_OF_SCOPE).collect();
    worst.sort_by(|a, b| a.f1.total_cmp(&b.f1).then_with(|| a.intent.cmp(&b.intent)));
    worst.truncate(WORST_INTENTS_SHOWN);
    if !worst.is_empty() {
        let width = worst.iter().map(|m| shorten(&m.intent).chars().count()).max().unwrap_or(0).max(6);
        lines.push(String::new());
        lines.push(format!("Worst intents by F1 (of {})", counts.intents));
        lines.push(format!("  {:<width$}  precision  recall     F1  support", "intent"));
        for m in worst {
            lines.push(format!(
                "  {:<width$}  {:>9.3}  {:>6.3}  {:>5.3}  {:>7}",
                shorten(&m.intent),
                m.precision,
                m.recall,
                m.f1,
                m.support
            ));
        }
    }

    if !evaluation.confused_pairs.is_empty() {
        lines.push(String::new());
        lines.push("Most confused (gold -> predicted)".to_owned());
        for pair in &evaluation.confused_pairs {
            lines.push(format!("  {:>5}  {} -> {}", pair.count, shorten(&pair.gold), shorten(&pair.predicted)));
        }
    }
    lines.join("\n")
}

fn optional(value: Option<f64>) -> String {
    value.map_or_else(|| "  n/a".to_owned(), |v| format!("{v:.3}"))
}

fn shorten(label: &str) -> Cow<'_, str> {
    let length = label.chars().count();
    if length <= LABEL_MAX_CHARS {
        return Cow::Borrowed(label);
    }
    // Cut the middle: intents that share a long prefix usually differ at the end.
    let head = (LABEL_MAX_CHARS - 1) * 2 / 3;
    let tail = LABEL_MAX_CHARS - 1 - head;
    Cow::Owned(label.chars().take(head).chain(['…']).chain(label.chars().skip(length - tail)).collect())
}

/// Writes the report files into `dir` (created if missing) and returns their paths:
/// `confusion.csv`, `confusion.png`, `reliability.png`, `per_intent.csv`, `errors.jsonl`, `summary.json`.
///
/// `predictions` must be the list `evaluation` was computed from: the confusion matrix and the error list
/// come from it.
pub fn write_report(
    evaluation: &Evaluation,
    predictions: &[Prediction],
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir { path: dir.to_path_buf(), source })?;
    let confusion = Confusion::new(predictions);

    let summary_path = dir.join("summary.json");
    let summary = serde_json::to_vec_pretty(evaluation)
        .map_err(|source| ReportError::Json { path: summary_path.clone(), source })?;
    let errors_path = dir.join("errors.jsonl");
    let mut errors = Vec::new();
    for p in predictions.iter().filter(|p| !p.is_correct()) {
        serde_json::to_writer(&mut errors, p)
            .map_err(|source| ReportError::Json { path: errors_path.clone(), source })?;
        errors.push(b'\n');
    }

    ensure_font()?;
    Ok(vec![
        write_file(dir.join("confusion.csv"), confusion_csv(&confusion).as_bytes())?,
        draw_png(dir.join("confusion.png"), |path| draw_confusion(path, &confusion, evaluation))?,
        draw_png(dir.join("reliability.png"), |path| draw_reliability(path, evaluation))?,
        write_file(dir.join("per_intent.csv"), per_intent_csv(evaluation).as_bytes())?,
        write_file(errors_path, &errors)?,
        write_file(summary_path, &summary)?,
    ])
}

fn write_file(path: PathBuf, contents: &[u8]) -> Result<PathBuf, ReportError> {
    match fs::write(&path, contents) {
        Ok(()) => Ok(path),
        Err(source) => Err(ReportError::Write { path, source }),
    }
}

/// Rows are gold labels, columns predictions, both in [`Confusion`] order.
fn confusion_csv(confusion: &Confusion) -> String {
    let header = std::iter::once(Cow::Borrowed("gold\\predicted")).chain(confusion.labels.iter().map(|l| csv_field(l)));
    let mut lines = vec![header.collect::<Vec<_>>().join(",")];
    for (label, row) in confusion.labels.iter().zip(&confusion.cells) {
        let cells = row.iter().map(|count| Cow::Owned(count.to_string()));
        lines.push(std::iter::once(csv_field(label)).chain(cells).collect::<Vec<_>>().join(","));
    }
    lines.join("\n") + "\n"
}

fn per_intent_csv(evaluation: &Evaluation) -> String {
    let mut out = String::from("intent,precision,recall,f1,support\n");
    for m in &evaluation.per_intent {
        out += &format!("{},{:.4},{:.4},{:.4},{}\n", csv_field(&m.intent), m.precision, m.recall, m.f1, m.support);
    }
    out
}

/// Quotes a field only when RFC 4180 requires it; intent names rarely need it, but one with a comma
/// must not shift every column after it.
fn csv_field(field: &str) -> Cow<'_, str> {
    if field.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(field)
    }
}

type DrawResult = Result<(), DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>>;

fn draw_png(path: PathBuf, draw: impl FnOnce(&Path) -> DrawResult) -> Result<PathBuf, ReportError> {
    match draw(&path) {
        Ok(()) => Ok(path),
        Err(error) => Err(ReportError::Plot { message: error.to_string(), path }),
    }
}

/// plotters keeps fonts in a process-wide table; registering once is enough for every later report.
fn ensure_font() -> Result<(), ReportError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered = *REGISTERED
        .get_or_init(|| register_font(FONT_FAMILY, FontStyle::Normal, epaint_default_fonts::HACK_REGULAR).is_ok());
    if registered {
        Ok(())
    } else {
        Err(ReportError::Font)
    }
}

fn text_width(text: &str, size: f64) -> u32 {
    // If the font cannot measure (it always can once registered), a monospace estimate is close enough.
    (FONT_FAMILY, size)
        .into_font()
        .box_size(text)
        .map_or((text.chars().count() as f64 * size * 0.6) as u32, |b| b.0)
}

/// Which labels the heat map draws, in matrix order, and a sentence saying what was left out.
fn heatmap_labels(confusion: &Confusion) -> (Vec<usize>, String) {
    let total = confusion.labels.len();
    if total <= FULL_HEATMAP_MAX_LABELS {
        return ((0..total).collect(), format!("All {total} labels."));
    }
    // With many intents most rows are a lone diagonal cell; showing only labels with errors keeps cells
    // large enough to read while losing nothing a reader looks for.
    let errors = confusion.errors_per_label();
    let mut involved: Vec<usize> = (0..total).filter(|&i| errors[i] > 0).collect();
    let note = if involved.is_empty() {
        involved = (0..total.min(HEATMAP_MAX_LABELS)).collect();
        format!("No errors; the first {} of {total} labels.", involved.len())
    } else if involved.len() > HEATMAP_MAX_LABELS {
        involved.sort_by(|&a, &b| errors[b].cmp(&errors[a]).then(a.cmp(&b)));
        involved.truncate(HEATMAP_MAX_LABELS);
        involved.sort_unstable();
        format!("The {HEATMAP_MAX_LABELS} labels with most errors, of {total}.")
    } else {
        format!("The {} of {total} labels involved in errors.", involved.len())
    };
    (involved, format!("{note} Full matrix: confusion.csv."))
}

/// Blue for the diagonal and red for confusions, shaded by share of the gold row. Non-zero cells get at
/// least a light tint, so a single error among hundreds of utterances is still visible.
fn cell_colour(share: f64, diagonal: bool) -> (RGBColor, bool) {
    if share <= 0.0 {
        return (WHITE, false);
    }
    let strength = 0.18 + 0.82 * share.min(1.0);
    let (r, g, b) = if diagonal { (33.0, 102.0, 172.0) } else { (203.0, 24.0, 29.0) };
    let mix = |c: f64| (255.0 + (c - 255.0) * strength).round() as u8;
    (RGBColor(mix(r), mix(g), mix(b)), strength > 0.55)
}

fn draw_confusion(path: &Path, confusion: &Confusion, evaluation: &Evaluation) -> DrawResult {
    const MARGIN: i32 = 16;
    const HEADER: i32 = 84;
    let (shown, note) = heatmap_labels(confusion);
    let n = shown.len() as i32;
    // Cells shrink as labels grow but never below 16 px, where a 3-digit count still fits; the image grows
    // instead.
    let cell: i32 = match shown.len() {
        0..=20 => 34,
        21..=60 => 22,
        _ => 16,
    };
    let label_size = (f64::from(cell) * 0.6).clamp(11.0, 15.0);
    let names: Vec<Cow<'_, str>> = shown.iter().map(|&i| shorten(&confusion.labels[i])).collect();
    let label_extent = names.iter().map(|l| text_width(l, label_size)).max().unwrap_or(0) as i32 + 8;
    let axis_title = 28;
    let left = MARGIN + axis_title + label_extent;
    let top = HEADER;
    let width = (left + n * cell + MARGIN).max(760);
    let height = top + n * cell + label_extent + axis_title + MARGIN;

    let root = BitMapBackend::new(path, (width as u32, height as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let title =
        format!("Confusion matrix: {} predictions, accuracy {:.3}", evaluation.counts.predictions, evaluation.accuracy);
    root.draw(&Text::new(title, (MARGIN, MARGIN), (FONT_FAMILY, 20).into_font()))?;
    let small = (FONT_FAMILY, 13).into_font();
    if shown.is_empty() {
        root.draw(&Text::new("No predictions.", (MARGIN, MARGIN + 30), small))?;
        return root.present();
    }
    root.draw(&Text::new(note, (MARGIN, MARGIN + 28), small.clone()))?;
    let legend = "Rows: gold, columns: predicted. Shade: share of the gold row; blue correct, red confused.";
    root.draw(&Text::new(legend, (MARGIN, MARGIN + 46), small))?;

    let labels = TextStyle::from((FONT_FAMILY, label_size).into_font());
    let grid = RGBColor(225, 225, 225);
    let count_size = (f64::from(cell) * 0.55).clamp(9.0, 15.0);
    for (r, &g) in shown.iter().enumerate() {
        let y = top + r as i32 * cell;
        let row_total = confusion.row_total(g);
        root.draw(&Text::new(
            names[r].as_ref(),
            (left - 6, y + cell / 2),
            labels.pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
        for (c, &q) in shown.iter().enumerate() {
            let x = left + c as i32 * cell;
            let count = confusion.cells[g][q];
            let share = ratio(count, row_total).unwrap_or(0.0);
            let (fill, dark) = cell_colour(share, g == q);
            root.draw(&Rectangle::new([(x, y), (x + cell, y + cell)], fill.filled()))?;
            root.draw(&Rectangle::new([(x, y), (x + cell, y + cell)], grid.stroke_width(1)))?;
            if count > 0 {
                let ink = if dark { WHITE } else { BLACK };
                let style = TextStyle::from((FONT_FAMILY, count_size).into_font())
                    .color(&ink)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                root.draw(&Text::new(count.to_string(), (x + cell / 2, y + cell / 2), style))?;
            }
        }
    }
    // Column labels read bottom-to-top, ending at the matrix, as in most plotting tools.
    let bottom = top + n * cell;
    let vertical = labels.transform(FontTransform::Rotate270).pos(Pos::new(HPos::Right, VPos::Center));
    for (c, name) in names.iter().enumerate() {
        root.draw(&Text::new(name.as_ref(), (left + c as i32 * cell + cell / 2, bottom + 6), vertical.clone()))?;
    }

    let titles = TextStyle::from((FONT_FAMILY, 15).into_font()).pos(Pos::new(HPos::Center, VPos::Center));
    let matrix_middle = (left + n * cell / 2, top + n * cell / 2);
    root.draw(&Text::new("predicted", (matrix_middle.0, bottom + label_extent + axis_title / 2), titles.clone()))?;
    let gold_title = titles.transform(FontTransform::Rotate270);
    root.draw(&Text::new("gold", (MARGIN + axis_title / 2, matrix_middle.1), gold_title))?;
    root.present()
}

fn draw_reliability(path: &Path, evaluation: &Evaluation) -> DrawResult {
    let root = BitMapBackend::new(path, (820, 760)).into_drawing_area();
    root.fill(&WHITE)?;
    let title =
        format!("Reliability diagram: ECE {:.3} over {} predictions", evaluation.ece, evaluation.counts.predictions);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT_FAMILY, 20))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_desc("confidence")
        .y_desc("accuracy")
        .x_labels(CALIBRATION_BINS + 1)
        .y_labels(CALIBRATION_BINS + 1)
        .x_label_formatter(&|v| format!("{v:.1}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .label_style((FONT_FAMILY, 14))
        .axis_desc_style((FONT_FAMILY, 16))
        .light_line_style(WHITE)
        .draw()?;

    // (lower, upper, accuracy, mean confidence, count) of each non-empty bin.
    let bars: Vec<(f64, f64, f64, f64, usize)> = evaluation
        .reliability
        .iter()
        .filter_map(|b| Some((b.lower, b.upper, b.accuracy?, b.mean_confidence?, b.count)))
        .collect();
    let gap = 0.006; // a sliver of white between bars
    let accuracy_colour = RGBColor(33, 102, 172);
    let confidence_colour = RGBColor(230, 85, 13);
    chart
        .draw_series(
            bars.iter().map(|&(lo, hi, acc, _, _)| {
                Rectangle::new([(lo + gap, 0.0), (hi - gap, acc)], accuracy_colour.filled())
            }),
        )?
        .label("accuracy of the bin")
        .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], accuracy_colour.filled()));
    let diagonal = RGBColor(80, 80, 80);
    chart
        .draw_series(std::iter::once(PathElement::new(vec![(0.0, 0.0), (1.0, 1.0)], diagonal.stroke_width(2))))?
        .label("perfect calibration")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], diagonal.stroke_width(2)));
    // The gap between a bar's top and this marker is what ECE averages.
    chart
        .draw_series(bars.iter().map(|&(lo, hi, _, conf, _)| {
            PathElement::new(vec![(lo + gap, conf), (hi - gap, conf)], confidence_colour.stroke_width(4))
        }))?
        .label("mean confidence of the bin")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], confidence_colour.stroke_width(4)));
    // Counts sit at the foot of each bar, where they never collide with the markers or the legend.
    chart.draw_series(bars.iter().map(|&(lo, hi, acc, _, count)| {
        let ink = if acc >= 0.06 { &WHITE } else { &BLACK };
        let style = TextStyle::from((FONT_FAMILY, 12).into_font()).color(ink).pos(Pos::new(HPos::Center, VPos::Bottom));
        Text::new(format!("n={count}"), ((lo + hi) / 2.0, 0.012), style)
    }))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT_FAMILY, 14))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prediction(gold: &str, predicted: &str, confidence: f32, latency_ms: f64) -> Prediction {
        Prediction {
            text: format!("a caller asking about {gold}"),
            gold: gold.to_owned(),
            predicted: predicted.to_owned(),
            confidence,
            latency_ms,
        }
    }

    /// Ten predictions over three intents and out-of-scope; the expected numbers in the tests below are
    /// worked out by hand from this table.
    fn fixture() -> Vec<Prediction> {
        vec![
            prediction("balance", "balance", 0.92, 10.0),
            prediction("balance", "balance", 0.83, 20.0),
            prediction("balance", "card", 0.63, 30.0),
            prediction("card", "card", 0.74, 40.0),
            prediction("card", "transfer", 0.45, 50.0),
            prediction("transfer", "transfer", 0.95, 60.0),
            prediction("oos", "oos", 0.35, 70.0),
            prediction("oos", "balance", 0.55, 80.0),
            prediction("card", "oos", 0.25, 90.0),
            prediction("transfer", "transfer", 0.86, 100.0),
        ]
    }

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() < 1e-6
    }

    fn intent<'a>(evaluation: &'a Evaluation, name: &str) -> &'a IntentMetrics {
        evaluation.per_intent.iter().find(|m| m.intent == name).expect("intent in per_intent")
    }

    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("helpline-report-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn png_size(path: &Path) -> (u32, u32) {
        let bytes = fs::read(path).expect("png readable");
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is not a PNG", path.display());
        assert!(bytes.len() > 5_000, "{} is only {} bytes", path.display(), bytes.len());
        let be = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        (be(16), be(20)) // width and height from the IHDR chunk
    }

    #[test]
    fn accuracy_counts_out_of_scope_as_a_class() {
        let evaluation = evaluate(&fixture());
        assert!(close(evaluation.accuracy, 0.6));
        assert_eq!(evaluation.counts.correct, 6);
        assert_eq!(evaluation.counts.predictions, 10);
    }

    #[test]
    fn per_intent_metrics_match_hand_computation_and_are_sorted_by_name() {
        let evaluation = evaluate(&fixture());
        let names: Vec<&str> = evaluation.per_intent.iter().map(|m| m.intent.as_str()).collect();
        assert_eq!(names, ["balance", "card", "oos", "transfer"]);
        let expected = [
            ("balance", 2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0, 3),
            ("card", 0.5, 1.0 / 3.0, 0.4, 3),
            ("transfer", 2.0 / 3.0, 1.0, 0.8, 2),
            ("oos", 0.5, 0.5, 0.5, 2),
        ];
        for (name, precision, recall, f1, support) in expected {
            let m = intent(&evaluation, name);
            assert!(close(m.precision, precision), "{name} precision {}", m.precision);
            assert!(close(m.recall, recall), "{name} recall {}", m.recall);
            assert!(close(m.f1, f1), "{name} f1 {}", m.f1);
            assert_eq!(m.support, support, "{name} support");
        }
    }

    #[test]
    fn macro_f1_averages_in_scope_intents_only() {
        let evaluation = evaluate(&fixture());
        // (2/3 + 2/5 + 4/5) / 3; out-of-scope's 0.5 stays out.
        assert!(close(evaluation.macro_f1, 28.0 / 45.0), "{}", evaluation.macro_f1);
        assert_eq!(evaluation.counts.intents, 3);
    }

    #[test]
    fn macro_f1_charges_intents_that_were_only_predicted() {
        let evaluation =
            evaluate(&[prediction("balance", "balance", 0.9, 1.0), prediction("card", "refund", 0.9, 1.0)]);
        // balance 1, card 0 (never predicted), refund 0 (never gold).
        assert_eq!(evaluation.counts.intents, 3);
        assert!(close(evaluation.macro_f1, 1.0 / 3.0));
    }

    #[test]
    fn in_scope_accuracy_ignores_out_of_scope_gold() {
        let evaluation = evaluate(&fixture());
        assert!(close(evaluation.in_scope_accuracy, 5.0 / 8.0));
        assert_eq!((evaluation.counts.in_scope, evaluation.counts.out_of_scope), (8, 2));
    }

    #[test]
    fn oos_recall_and_precision_count_rejections() {
        let evaluation = evaluate(&fixture());
        assert_eq!(evaluation.oos_recall, Some(0.5));
        assert_eq!(evaluation.oos_precision, Some(0.5));
        assert_eq!(evaluation.counts.predicted_out_of_scope, 2);
    }

    #[test]
    fn ece_weights_each_bins_gap_by_its_share() {
        let evaluation = evaluate(&[
            prediction("a", "a", 0.95, 1.0),
            prediction("a", "b", 0.95, 1.0),
            prediction("a", "a", 0.25, 1.0),
            prediction("b", "b", 0.25, 1.0),
        ]);
        // Top bin: accuracy 0.5, confidence 0.95, half the data. Bin 0.2: accuracy 1, confidence 0.25.
        assert!(close(evaluation.ece, 0.5 * 0.45 + 0.5 * 0.75), "{}", evaluation.ece);
        let top = &evaluation.reliability[9];
        assert_eq!((top.count, top.accuracy), (2, Some(0.5)));
        assert!(close(top.mean_confidence.expect("non-empty bin"), 0.95));
        let low = &evaluation.reliability[2];
        assert_eq!((low.lower, low.upper, low.count), (0.2, 0.3, 2));
        assert_eq!(evaluation.reliability[5].accuracy, None);
    }

    #[test]
    fn latency_percentiles_use_nearest_rank() {
        let predictions: Vec<Prediction> =
            (1..=20).rev().map(|i| prediction("a", "a", 0.9, f64::from(i) * 10.0)).collect();
        let evaluation = evaluate(&predictions);
        // Rank ceil(0.50 * 20) = 10 and ceil(0.95 * 20) = 19 of the sorted latencies.
        assert_eq!((evaluation.p50_ms, evaluation.p95_ms, evaluation.max_ms), (100.0, 190.0, 200.0));
        let small = evaluate(&fixture());
        assert_eq!((small.p50_ms, small.p95_ms, small.max_ms), (50.0, 100.0, 100.0));
    }

    #[test]
    fn confused_pairs_exclude_correct_and_sort_by_count_then_name() {
        let mut predictions = fixture();
        predictions.push(prediction("card", "transfer", 0.5, 1.0));
        let pairs: Vec<(String, String, usize)> =
            evaluate(&predictions).confused_pairs.into_iter().map(|p| (p.gold, p.predicted, p.count)).collect();
        let expected = [("card", "transfer", 2), ("balance", "card", 1), ("card", "oos", 1), ("oos", "balance", 1)];
        let expected: Vec<(String, String, usize)> =
            expected.iter().map(|&(g, p, c)| (g.to_owned(), p.to_owned(), c)).collect();
        assert_eq!(pairs, expected);
    }

    #[test]
    fn empty_predictions_give_zeros_and_none() {
        let evaluation = evaluate(&[]);
        assert_eq!(evaluation.counts.predictions, 0);
        assert_eq!((evaluation.accuracy, evaluation.macro_f1, evaluation.ece), (0.0, 0.0, 0.0));
        assert_eq!(evaluation.in_scope_accuracy, 0.0);
        assert_eq!((evaluation.oos_recall, evaluation.oos_precision), (None, None));
        assert_eq!((evaluation.p50_ms, evaluation.p95_ms, evaluation.max_ms), (0.0, 0.0, 0.0));
        assert!(evaluation.per_intent.is_empty() && evaluation.confused_pairs.is_empty());
        assert_eq!(evaluation.reliability.len(), CALIBRATION_BINS);
        assert!(format_table(&evaluation).contains("no predictions"));
    }

    #[test]
    fn all_correct_predictions_score_one_with_no_confusions() {
        let predictions =
            vec![prediction("a", "a", 1.0, 5.0), prediction("b", "b", 1.0, 5.0), prediction("oos", "oos", 1.0, 5.0)];
        let evaluation = evaluate(&predictions);
        assert_eq!((evaluation.accuracy, evaluation.macro_f1), (1.0, 1.0));
        assert_eq!((evaluation.oos_recall, evaluation.oos_precision), (Some(1.0), Some(1.0)));
        assert!(evaluation.confused_pairs.is_empty());
        // Confidence 1.0 belongs to the top bin, and perfect confidence on perfect answers is calibrated.
        assert_eq!(evaluation.reliability[9].count, 3);
        assert_eq!(evaluation.ece, 0.0);
    }

    #[test]
    fn without_out_of_scope_gold_oos_recall_is_none() {
        let evaluation = evaluate(&[prediction("a", "a", 0.9, 1.0), prediction("b", "oos", 0.2, 1.0)]);
        assert_eq!(evaluation.oos_recall, None);
        assert_eq!(evaluation.oos_precision, Some(0.0));
        let nothing_rejected = evaluate(&[prediction("a", "a", 0.9, 1.0)]);
        assert_eq!((nothing_rejected.oos_recall, nothing_rejected.oos_precision), (None, None));
    }

    #[test]
    fn nan_confidence_and_latency_do_not_panic_or_poison_results() {
        let evaluation = evaluate(&[prediction("a", "a", f32::NAN, f64::NAN), prediction("a", "a", 0.9, 7.0)]);
        assert_eq!(evaluation.reliability[0].count, 1);
        assert_eq!((evaluation.p50_ms, evaluation.max_ms), (7.0, 7.0));
        assert!(evaluation.ece.is_finite());
    }

    #[test]
    fn format_table_names_worst_intents_and_confused_pairs() {
        let table = format_table(&evaluate(&fixture()));
        assert!(table.contains("accuracy           0.600"), "{table}");
        assert!(table.contains("OOS recall         0.500"), "{table}");
        assert!(table.contains("balance -> card"), "{table}");
        let worst = table.lines().skip_while(|l| !l.starts_with("Worst")).nth(2).unwrap_or_default();
        assert!(worst.trim_start().starts_with("card"), "weakest intent first: {table}");
        assert!(!table.lines().any(|l| l.trim_start().starts_with("oos ")), "oos is a headline, not a row: {table}");
    }

    #[test]
    fn write_report_creates_every_file_with_the_right_shape() {
        let dir = scratch_dir("fixture");
        let predictions = fixture();
        let evaluation = evaluate(&predictions);
        let written = write_report(&evaluation, &predictions, &dir).expect("report written");
        let names: Vec<String> =
            written.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).collect();
        assert_eq!(
            names,
            ["confusion.csv", "confusion.png", "reliability.png", "per_intent.csv", "errors.jsonl", "summary.json"]
        );
        assert!(written.iter().all(|p| p.starts_with(&dir) && p.is_file()));

        let csv = fs::read_to_string(dir.join("confusion.csv")).expect("csv");
        let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
        assert_eq!(rows.len(), 5, "header and four labels");
        assert!(rows.iter().all(|r| r.len() == 5), "{csv}");
        assert_eq!(rows[0], ["gold\\predicted", "balance", "card", "transfer", "oos"]);
        assert_eq!(rows[2], ["card", "0", "1", "1", "1"]);

        let per_intent = fs::read_to_string(dir.join("per_intent.csv")).expect("per_intent");
        assert_eq!(per_intent.lines().count(), 5);
        assert!(per_intent.contains("card,0.5000,0.3333,0.4000,3"), "{per_intent}");

        let errors = fs::read_to_string(dir.join("errors.jsonl")).expect("errors");
        let errors: Vec<Prediction> =
            errors.lines().map(|l| serde_json::from_str(l).expect("one prediction per line")).collect();
        assert_eq!(errors.len(), 4);
        assert!(errors.iter().all(|p| !p.is_correct()));

        let summary: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join("summary.json")).expect("summary")).expect("json");
        assert_eq!(summary["accuracy"], 0.6);
        assert_eq!(summary["reliability"].as_array().map(Vec::len), Some(CALIBRATION_BINS));

        let (width, height) = png_size(&dir.join("confusion.png"));
        assert!(width >= 760 && height > 200);
        png_size(&dir.join("reliability.png"));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn heat_map_with_many_intents_shows_only_those_in_errors_and_grows() {
        let mut predictions: Vec<Prediction> =
            (0..150).map(|i| prediction(&format!("intent_{i:03}_with_a_long_name"), "", 0.9, 1.0)).collect();
        for (i, p) in predictions.iter_mut().enumerate() {
            // Every third intent is confused with its neighbour: 100 labels are involved in errors.
            p.predicted = if i % 3 == 0 { format!("intent_{:03}_with_a_long_name", i + 1) } else { p.gold.clone() };
        }
        let confusion = Confusion::new(&predictions);
        let (shown, note) = heatmap_labels(&confusion);
        assert_eq!(shown.len(), 100);
        assert!(note.contains("100 of 150"), "{note}");

        let dir = scratch_dir("many");
        let written = write_report(&evaluate(&predictions), &predictions, &dir).expect("report written");
        assert_eq!(written.len(), 6);
        let (width, height) = png_size(&dir.join("confusion.png"));
        assert!(width >= 100 * 16 && height >= 100 * 16, "{width}x{height}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn write_report_on_no_predictions_still_writes_every_file() {
        let dir = scratch_dir("empty");
        let written = write_report(&evaluate(&[]), &[], &dir).expect("report written");
        assert_eq!(written.len(), 6);
        assert_eq!(fs::read_to_string(dir.join("errors.jsonl")).expect("errors"), "");
        assert_eq!(fs::read_to_string(dir.join("confusion.csv")).expect("csv"), "gold\\predicted\n");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn write_report_names_the_directory_it_cannot_create() {
        let blocker = scratch_dir("blocked");
        fs::write(&blocker, b"a file where the directory should be").expect("scratch file");
        let target = blocker.join("report");
        let error = write_report(&evaluate(&fixture()), &fixture(), &target).expect_err("a file blocks the path");
        assert!(matches!(error, ReportError::CreateDir { .. }));
        assert!(error.to_string().contains(&target.display().to_string()), "{error}");
        let _ = fs::remove_file(&blocker);
    }

    #[test]
    fn long_labels_are_cut_in_the_middle_so_similar_names_stay_apart() {
        let one = shorten("balance_not_updated_after_bank_transfer_or_deposit_1");
        let two = shorten("balance_not_updated_after_bank_transfer_or_deposit_2");
        assert_ne!(one, two);
        assert_eq!(one.chars().count(), LABEL_MAX_CHARS);
        assert!(one.starts_with("balance_not_") && one.ends_with("deposit_1"), "{one}");
        assert_eq!(shorten("card_arrival"), "card_arrival");
    }

    #[test]
    fn csv_fields_with_commas_or_quotes_are_quoted() {
        assert_eq!(csv_field("card_arrival"), "card_arrival");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}

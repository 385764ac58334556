//! `helpline bench calls`: concurrent phone calls over real gRPC, measured where a caller would: the
//! pause between the end of their words and the first sound of the reply.
//!
//! One server runs in this process on a free local port; N clients place calls at once in real time
//! (REALTIME pacing, replies "played" in real time), each speaking the committed caller turns. Start
//! times are staggered so turns do not line up artificially, as they would not on a real line.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::{median, provenance, write_section};
use crate::audio;
use crate::call::Pacing;
use crate::models::ModelDir;
use crate::service::{self, CallPlan, CallReport, CallerTurn, ServeConfig, ServeOverrides};

/// The caller turns of every benchmark call (Acme Bank's sample line, a known caller): a stolen card,
/// "yes" to the confirmation, "no, that's all" to "anything else?".
pub const CALLER_TURNS: [&str; 3] = [
    "audio-samples/caller-stolen-card-8k.wav",
    "audio-samples/caller-yes-8k.wav",
    "audio-samples/caller-no-thanks-8k.wav",
];

/// Jane Doe, a customer of the sample line with a credit card, so the turns above make a conversation
/// (confirm the card, block it; later calls hear it is already blocked, a reply of the same length).
const BENCH_CALLER: &str = "+15551234567";

/// Gap between the starts of concurrent calls: calls arrive at random moments on a real line.
const STAGGER: Duration = Duration::from_millis(700);

/// How often the benchmark clears the sentence encoder's memory. Every call says the same words, so
/// without this every turn after the first would find its vector remembered (~1 ms instead of the
/// ~15-20 ms a caller's new words cost). A turn's intent and FAQ reads follow each other within a
/// millisecond or two, so the reuse a real turn gets is mostly kept; reuse across calls is not.
const FORGET_EVERY: Duration = Duration::from_millis(20);

/// Resident memory of this process now, in MiB (Linux `VmRSS`).
pub fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// The 1-minute load average (other work on the machine slows every figure here).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// The nearest-rank percentile `p` (0..100) of `values`.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn caller_turns() -> Result<Vec<CallerTurn>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    CALLER_TURNS
        .iter()
        .map(|file| {
            let path = root.join(file);
            let audio = audio::wav::read(&path)
                .with_context(|| format!("run scripts/make-caller-samples.sh to make {file}"))?;
            Ok(CallerTurn::Speech { source: file.rsplit('/').next().unwrap_or(file).to_string(), audio })
        })
        .collect()
}

/// One concurrency level's results.
struct Level {
    calls: usize,
    latencies: Vec<f64>,
    unanswered: usize,
    recognition: Vec<f64>,
    understanding: Vec<f64>,
    synthesis: Vec<f64>,
    peak_rss: f64,
    elapsed_s: f64,
}

impl Level {
    /// Pool another round of the same level into this one.
    fn add(&mut self, other: Level) {
        self.latencies.extend(other.latencies);
        self.unanswered += other.unanswered;
        self.recognition.extend(other.recognition);
        self.understanding.extend(other.understanding);
        self.synthesis.extend(other.synthesis);
        self.peak_rss = self.peak_rss.max(other.peak_rss);
        self.elapsed_s += other.elapsed_s;
    }
}

/// Run `calls` calls at once, named `{label}-{i}` (call ids are session ids: each must be new).
async fn level(endpoint: &str, label: &str, calls: usize, turns: &[CallerTurn]) -> Result<Level> {
    let started = std::time::Instant::now();
    let peak = Arc::new(std::sync::Mutex::new(rss_mib()));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                let now = rss_mib();
                if let Ok(mut peak) = peak.lock() {
                    *peak = peak.max(now);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let mut tasks = Vec::new();
    for i in 0..calls {
        let plan = CallPlan {
            pacing: Pacing::Realtime,
            caller: Some(BENCH_CALLER.into()),
            ..CallPlan::new(format!("bench-{label}-{i}"), turns.to_vec())
        };
        let endpoint = endpoint.to_string();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(STAGGER * i as u32).await;
            service::place_call(&endpoint, plan, |_| {}).await
        }));
    }
    let mut reports: Vec<CallReport> = Vec::new();
    for task in tasks {
        reports.push(task.await.context("a benchmark call panicked")??);
    }
    sampler.abort();
    let mut result = Level {
        calls,
        latencies: Vec::new(),
        unanswered: 0,
        recognition: Vec::new(),
        understanding: Vec::new(),
        synthesis: Vec::new(),
        peak_rss: peak.lock().map(|p| *p).unwrap_or(f64::NAN),
        elapsed_s: started.elapsed().as_secs_f64(),
    };
    for report in &reports {
        if report.end.is_none() {
            bail!("call {} ended without CallEnded", report.call_id);
        }
        for turn in &report.turns {
            match turn.latency_ms {
                Some(ms) => result.latencies.push(ms),
                None => result.unanswered += 1,
            }
        }
        for timing in &report.server_timings {
            result.recognition.push(timing.recognition_ms);
            result.understanding.push(timing.understanding_ms);
            result.synthesis.push(timing.first_synthesis_ms);
        }
    }
    Ok(result)
}

/// Measure each level of `concurrency` and write the `calls` section of `out`.
pub fn calls(models: &ModelDir, concurrency: &[usize], rounds: usize, out: &Path) -> Result<()> {
    if concurrency.is_empty() || concurrency.contains(&0) {
        bail!("--concurrency needs numbers of calls of at least 1, e.g. --concurrency 1,2,4,8");
    }
    if rounds == 0 {
        bail!("--rounds needs at least 1");
    }
    let (machine, commit) = provenance();
    let load_before = load_average();
    let most = concurrency.iter().copied().max().unwrap_or(1);
    // A fresh store, so every run starts from the line's customers as seeded (the calls block a card).
    let store = std::env::temp_dir().join(format!("helpline-bench-calls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&store);
    let config = ServeConfig::resolve(
        None,
        ServeOverrides { max_calls: Some(most), store: Some(store.join("helpline.db")), ..Default::default() },
    )?;
    let turns = caller_turns()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let before_load = rss_mib();
    let assistant = service::Assistant::load(&config, models)?;
    let loaded = rss_mib();
    eprintln!("loaded line {} ({:.0} MiB resident, {:.0} MiB before loading)", assistant.line, loaded, before_load);
    let mut rows = Vec::new();
    let idle = runtime.block_on(async {
        let listener = service::bind("127.0.0.1:0".parse()?).await?;
        let server = service::start(listener, assistant.switchboard, assistant.store, most).await?;
        let encoder = assistant.encoder;
        let forgetting = tokio::spawn(async move {
            let mut clock = tokio::time::interval(FORGET_EVERY);
            loop {
                clock.tick().await;
                encoder.forget_recent();
            }
        });
        // One call first, unmeasured: the first recognition and synthesis pay for lazy set-up.
        level(&server.endpoint(), "warm-up", 1, &turns[..1]).await?;
        // Idle memory is measured after it: the models' working buffers exist from the first call on,
        // so they are not any one call's cost.
        let idle = rss_mib();
        for &calls in concurrency {
            let mut result = level(&server.endpoint(), &format!("{calls}-at-once-1"), calls, &turns).await?;
            for round in 2..=rounds {
                result.add(level(&server.endpoint(), &format!("{calls}-at-once-{round}"), calls, &turns).await?);
            }
            let ms = |v: f64| if v.is_nan() { "—".to_string() } else { format!("{v:.0} ms") };
            let row = format!(
                "| {} | {}{} | {} | {} | {} / {} / {} | {:.0} MiB | {:.0} MiB | {:.0} s |",
                result.calls,
                result.latencies.len(),
                if result.unanswered > 0 { format!(" ({} unanswered)", result.unanswered) } else { String::new() },
                ms(percentile(&result.latencies, 50.0)),
                ms(percentile(&result.latencies, 95.0)),
                ms(median(&result.recognition)),
                ms(median(&result.understanding)),
                ms(median(&result.synthesis)),
                result.peak_rss,
                (result.peak_rss - idle) / result.calls as f64,
                result.elapsed_s / rounds as f64,
            );
            eprintln!("{row}");
            rows.push(row);
        }
        forgetting.abort();
        server.shutdown().await?;
        anyhow::Ok(idle)
    })?;
    let _ = std::fs::remove_dir_all(&store);
    let load_after = load_average();
    let body = format!(
        "## Calls (`helpline bench calls --concurrency {} --rounds {rounds}`)\n\nMachine: {machine} (load average \
         {load_before} at the start, {load_after} at the end: other work on the machine slows every figure). \
         Commit: {commit}. One in-process server, N clients over real gRPC on loopback, REALTIME pacing (20 ms \
         mu-law frames at 8 kHz, replies played in real time), {} caller turns a call, call starts {} ms apart; \
         each level runs {rounds} times and its turns are pooled (wall time is per round). Turn latency is \
         measured at the client: last voiced caller frame sent (before the reply) → first reply audio received. Server shares are \
         medians of the `CallEnded` timing records; the sentence encoder's memory is cleared every {} ms, so \
         understanding is not served from the calls before. Resident memory: {loaded:.0} MiB with everything loaded, \
         {idle:.0} MiB idle after a first call; per call = (peak − idle) / N. A turn is unanswered when no reply \
         audio came within {} s.\n\nGoals: p50 ≤ 900 ms and p95 ≤ 1.5 s at 1 call; p95 ≤ 2 s at 4 calls.\n\n\
         | calls at once | turns measured | latency p50 | latency p95 | recognition / understanding / first synthesis (server, median) | peak RSS | RSS per call | wall time |\n\
         |---|---|---|---|---|---|---|---|\n{}",
        concurrency.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(","),
        CALLER_TURNS.len(),
        STAGGER.as_millis(),
        FORGET_EVERY.as_millis(),
        service::client::DEFAULT_REPLY_TIMEOUT.as_secs(),
        rows.join("\n")
    );
    write_section(out, "calls", &body)?;
    println!("wrote the calls section of {}", out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), 10.0);
        assert_eq!(percentile(&values, 95.0), 19.0);
        assert_eq!(percentile(&values, 100.0), 20.0);
        assert_eq!(percentile(&[7.0], 95.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }
}

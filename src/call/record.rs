//! The call's record in the store, written as the call goes: at set-up, after every turn and at the end,
//! so a crash loses at most the turn in progress. (The transcript itself is written by the dialogue
//! engine, turn by turn.)

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{CallSetup, TurnTiming};
use crate::audio::Encoding;
use crate::store::{CallRecord, Store};

/// Writes one call's record, one save at a time and in order (a later save never lands before an
/// earlier one), off the call's own task.
pub struct CallLog {
    record: CallRecord,
    saves: Option<mpsc::UnboundedSender<CallRecord>>,
    writer: Option<JoinHandle<()>>,
}

fn encoding_name(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Mulaw => "mulaw",
        Encoding::Alaw => "alaw",
        Encoding::S16le => "linear16",
    }
}

impl CallLog {
    /// Start the record; it is first saved by [`CallLog::started`], once the session it belongs to exists.
    pub fn open(store: Arc<dyn Store>, setup: &CallSetup) -> Self {
        let record = CallRecord {
            session_id: setup.call_id.clone(),
            call_id: setup.call_id.clone(),
            caller: setup.caller.clone(),
            called: setup.called.clone(),
            encoding: encoding_name(setup.encoding).to_string(),
            sample_rate: setup.sample_rate,
            started_at: Utc::now(),
            ended_at: None,
            end_reason: None,
            timings: timings_json(&[]),
        };
        let (saves, mut queue) = mpsc::unbounded_channel::<CallRecord>();
        let writer = tokio::spawn(async move {
            while let Some(record) = queue.recv().await {
                let store = Arc::clone(&store);
                let call_id = record.call_id.clone();
                match tokio::task::spawn_blocking(move || store.save_call(&record)).await {
                    Ok(Ok(())) => {}
                    // The call goes on: a record that could not be written is logged, the caller unaffected.
                    Ok(Err(error)) => tracing::warn!(%call_id, %error, "could not save the call record"),
                    Err(error) => tracing::warn!(%call_id, %error, "saving the call record panicked"),
                }
            }
        });
        Self { record, saves: Some(saves), writer: Some(writer) }
    }

    /// The session is open (the store keeps a call under its session): save the record now, so a
    /// crash from here on still leaves the call on record.
    pub fn started(&self) {
        self.save();
    }

    /// Save the timings so far (after a turn).
    pub fn turns(&mut self, turns: &[TurnTiming]) {
        self.record.timings = timings_json(turns);
        self.save();
    }

    /// Save the end of the call and wait until every save has landed.
    pub async fn close(mut self, reason: &str, turns: &[TurnTiming]) {
        self.record.timings = timings_json(turns);
        self.record.ended_at = Some(Utc::now());
        self.record.end_reason = Some(reason.to_string());
        self.save();
        self.saves = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.await;
        }
    }

    fn save(&self) {
        if let Some(saves) = &self.saves {
            let _ = saves.send(self.record.clone());
        }
    }
}

/// Per-turn latencies and their medians, as the record keeps them.
fn timings_json(turns: &[TurnTiming]) -> serde_json::Value {
    let median = |pick: fn(&TurnTiming) -> f64| {
        let mut values: Vec<f64> = turns.iter().map(pick).collect();
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied()
    };
    serde_json::json!({
        "turns": turns,
        "median": {
            "endpoint_ms": median(|t| t.endpoint_ms),
            "recognition_ms": median(|t| t.recognition_ms),
            "understanding_ms": median(|t| t.understanding_ms),
            "first_synthesis_ms": median(|t| t.first_synthesis_ms),
            "first_audio_ms": median(|t| t.first_audio_ms),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_keep_every_turn_and_their_medians() {
        let turn = |first_audio_ms| TurnTiming { first_audio_ms, ..TurnTiming::default() };
        let json = timings_json(&[turn(900.0), turn(1500.0), turn(1100.0)]);
        assert_eq!(json["turns"].as_array().expect("turns").len(), 3);
        assert_eq!(json["median"]["first_audio_ms"], 1100.0);
        assert_eq!(timings_json(&[])["median"]["first_audio_ms"], serde_json::Value::Null);
    }
}

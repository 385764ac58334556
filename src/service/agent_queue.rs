//! `AgentQueue`: the human side of a hand-off, over the [`Store`]'s queue. Agents watch the queue, claim
//! a call, read its hand-off packet and complete it. Every store call is blocking (SQLite), so each runs
//! on tokio's blocking pool and never stalls the calls' audio.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::proto as pb;
use crate::handoff::HandoffPacket;
use crate::store::{QueueEntry, QueueFilter, QueueStatus, Store, StoreError};

/// How often `Watch` reads the queue. The store has no change feed (SQLite cannot notify across
/// processes, and the CLI writes the same file), so watching is polling: reading a few dozen indexed
/// rows takes well under a millisecond, and half a second is quicker than an agent can react.
pub const WATCH_POLL: Duration = Duration::from_millis(500);

/// The `AgentQueue` gRPC service.
pub struct AgentQueueService {
    store: Arc<dyn Store>,
    poll: Duration,
}

impl AgentQueueService {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store, poll: WATCH_POLL }
    }

    /// Run a store call on the blocking pool.
    async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, Status> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|failure| Status::internal(format!("the store call failed: {failure}")))?
            .map_err(store_status)
    }
}

/// The gRPC status of a store error: the caller's mistakes keep their meaning, the rest is internal.
pub fn store_status(error: StoreError) -> Status {
    match &error {
        StoreError::NotFound { .. } => Status::not_found(error.to_string()),
        StoreError::QueueState { .. } => Status::failed_precondition(error.to_string()),
        StoreError::Invalid { .. } => Status::invalid_argument(error.to_string()),
        StoreError::Conflict { .. } => Status::aborted(error.to_string()),
        StoreError::Open { .. } | StoreError::Corrupt { .. } | StoreError::TooNew { .. } | StoreError::Database(_) => {
            Status::internal(error.to_string())
        }
    }
}

fn filter(queue: String, include_completed: bool) -> QueueFilter {
    QueueFilter { queue: Some(queue).filter(|q| !q.is_empty()), include_completed }
}

fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: at.timestamp(), nanos: at.timestamp_subsec_nanos() as i32 }
}

/// A queue entry as agents see it.
pub fn queue_entry(entry: &QueueEntry) -> pb::QueueEntry {
    pb::QueueEntry {
        id: entry.id,
        session_id: entry.session_id.clone(),
        queue: entry.queue.clone(),
        skill: entry.skill.clone().unwrap_or_default(),
        priority: entry.priority,
        status: match entry.status {
            QueueStatus::Waiting => pb::QueueStatus::Waiting,
            QueueStatus::Claimed => pb::QueueStatus::Claimed,
            QueueStatus::Completed => pb::QueueStatus::Completed,
        } as i32,
        enqueued_at: Some(timestamp(entry.enqueued_at)),
        claimed_by: entry.claimed_by.clone().unwrap_or_default(),
        claimed_at: entry.claimed_at.map(timestamp),
        completed_at: entry.completed_at.map(timestamp),
        outcome: entry.outcome.clone().unwrap_or_default(),
        notes: entry.notes.clone().unwrap_or_default(),
        position: entry.position.unwrap_or(0) as u32,
        estimated_wait_s: entry.estimated_wait_s.unwrap_or(0),
        summary: entry.packet.get("summary").and_then(|s| s.as_str()).unwrap_or_default().to_string(),
    }
}

/// The hand-off packet of a queue entry, typed for agent desktops, with the whole packet as JSON.
pub fn handoff_packet(entry: &QueueEntry) -> Result<pb::HandoffPacket, Status> {
    let packet: HandoffPacket = serde_json::from_value(entry.packet.clone()).map_err(|error| {
        Status::data_loss(format!(
            "queue entry {} holds a packet that is not a hand-off packet ({error}); it was not written by a \
             Helpline hand-off",
            entry.id
        ))
    })?;
    Ok(pb::HandoffPacket {
        queue_entry_id: entry.id,
        session_id: packet.session_id.clone(),
        line: packet.line.clone(),
        channel: packet.channel.clone(),
        caller: packet.caller.clone().unwrap_or_default(),
        reasons: packet.reasons.iter().map(|r| r.as_str().to_string()).collect(),
        summary: packet.summary.clone(),
        flow: packet.flow.clone().unwrap_or_default(),
        slots: packet.slots.clone().into_iter().collect(),
        intents: packet
            .intents
            .iter()
            .map(|i| pb::IntentScore { intent: i.intent.clone(), confidence: i.confidence })
            .collect(),
        sentiment_trend: packet.sentiment_trend.clone(),
        transcript: packet
            .transcript
            .iter()
            .map(|t| pb::PacketTurn {
                speaker: t.speaker.clone(),
                text: t.text.clone(),
                asr_confidence: t.asr_confidence.unwrap_or(0.0),
                intent: t.intent.clone().unwrap_or_default(),
                intent_confidence: t.intent_confidence.unwrap_or(0.0),
                sentiment: t.sentiment.unwrap_or(0.0),
            })
            .collect(),
        queue: packet.queue.clone(),
        skill: packet.skill.clone().unwrap_or_default(),
        priority: packet.priority,
        packet_json: entry.packet.to_string(),
    })
}

fn snapshot(entries: &[QueueEntry]) -> pb::QueueSnapshot {
    pb::QueueSnapshot { entries: entries.iter().map(queue_entry).collect() }
}

type WatchStream = Pin<Box<ReceiverStream<Result<pb::QueueSnapshot, Status>>>>;

#[tonic::async_trait]
impl pb::agent_queue_server::AgentQueue for AgentQueueService {
    type WatchStream = WatchStream;

    async fn watch(&self, request: Request<pb::WatchRequest>) -> Result<Response<Self::WatchStream>, Status> {
        let request = request.into_inner();
        let filter = filter(request.queue, request.include_completed);
        let (updates, stream) = tokio::sync::mpsc::channel(4);
        let (store, poll) = (self.store.clone(), self.poll);
        tokio::spawn(async move {
            let mut last: Option<Vec<QueueEntry>> = None;
            loop {
                let (store, filter) = (store.clone(), filter.clone());
                let read = tokio::task::spawn_blocking(move || store.queue_entries(&filter)).await;
                let update = match read {
                    Ok(Ok(entries)) if last.as_ref() == Some(&entries) => None,
                    Ok(Ok(entries)) => {
                        let update = snapshot(&entries);
                        last = Some(entries);
                        Some(Ok(update))
                    }
                    Ok(Err(error)) => Some(Err(store_status(error))),
                    Err(failure) => Some(Err(Status::internal(format!("reading the queue failed: {failure}")))),
                };
                if let Some(update) = update {
                    let failed = update.is_err();
                    if updates.send(update).await.is_err() || failed {
                        break; // the agent stopped watching, or the store failed and the stream ended
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = updates.closed() => break,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(stream))))
    }

    async fn list(&self, request: Request<pb::ListRequest>) -> Result<Response<pb::QueueSnapshot>, Status> {
        let request = request.into_inner();
        let filter = filter(request.queue, request.include_completed);
        let entries = self.with_store(move |store| store.queue_entries(&filter)).await?;
        Ok(Response::new(snapshot(&entries)))
    }

    async fn claim(&self, request: Request<pb::ClaimRequest>) -> Result<Response<pb::QueueEntry>, Status> {
        let request = request.into_inner();
        let agent = request.agent.trim().to_string();
        if agent.is_empty() {
            return Err(Status::invalid_argument("ClaimRequest.agent is empty; name the agent taking the call"));
        }
        let entry = match request.target {
            Some(pb::claim_request::Target::Id(id)) => self.with_store(move |store| store.claim(id, &agent)).await?,
            Some(pb::claim_request::Target::Next(next)) => {
                let queue = Some(next.queue.clone()).filter(|q| !q.is_empty());
                let skills = next.skills.clone();
                let claimed = self.with_store(move |store| store.claim_next(&agent, queue.as_deref(), &skills)).await?;
                claimed.ok_or_else(|| {
                    let queue = if next.queue.is_empty() { "any queue".to_string() } else { next.queue.clone() };
                    Status::not_found(format!(
                        "no call is waiting in {queue} for skills {:?}; watch the queue and try again",
                        next.skills
                    ))
                })?
            }
            None => {
                return Err(Status::invalid_argument(
                    "ClaimRequest names no entry; set id (that entry) or next (the next waiting one)",
                ))
            }
        };
        Ok(Response::new(queue_entry(&entry)))
    }

    async fn complete(&self, request: Request<pb::CompleteRequest>) -> Result<Response<pb::QueueEntry>, Status> {
        let request = request.into_inner();
        let outcome = request.outcome.trim().to_string();
        if outcome.is_empty() {
            return Err(Status::invalid_argument(
                "CompleteRequest.outcome is empty; say what the agent did, e.g. \"resolved\"",
            ));
        }
        let notes = Some(request.notes).filter(|n| !n.trim().is_empty());
        let id = request.id;
        let entry = self.with_store(move |store| store.complete(id, &outcome, notes.as_deref())).await?;
        Ok(Response::new(queue_entry(&entry)))
    }

    async fn get_handoff(
        &self,
        request: Request<pb::GetHandoffRequest>,
    ) -> Result<Response<pb::HandoffPacket>, Status> {
        let id = request.into_inner().id;
        let entry = self
            .with_store(move |store| store.queue_entry(id))
            .await?
            .ok_or_else(|| Status::not_found(format!("no queue entry {id}; list the queue with AgentQueue.List")))?;
        Ok(Response::new(handoff_packet(&entry)?))
    }
}

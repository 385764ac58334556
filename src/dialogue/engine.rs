//! The engine: one session per conversation, turn by turn. (Being written: the face is fixed.)

use std::sync::Arc;

use super::{CallerInput, Event, Expectation, Line, SessionStart};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum DialogueError {
    #[error("session {0} has ended; start a new session")]
    Finished(String),
    #[error("no session {0}")]
    UnknownSession(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Understanding(#[from] crate::nlu::NluError),
}

/// The flow engine for one line, shared by all its sessions.
pub struct Engine {
    line: Arc<Line>,
    store: Arc<dyn Store>,
}

/// One conversation's state.
pub struct Session {
    id: String,
}

impl Session {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What the session waits for next.
    pub fn expecting(&self) -> Expectation {
        todo!()
    }

    pub fn is_finished(&self) -> bool {
        todo!()
    }
}

impl Engine {
    pub fn new(line: Arc<Line>, store: Arc<dyn Store>) -> Self {
        Self { line, store }
    }

    pub fn line(&self) -> &Line {
        &self.line
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Open a session: recognise the caller and greet them.
    pub fn start(&self, _start: SessionStart) -> Result<(Session, Vec<Event>), DialogueError> {
        todo!()
    }

    /// Pick up a session saved in the store (e.g. moving from chat to voice).
    pub fn resume(&self, _session_id: &str) -> Result<Session, DialogueError> {
        todo!()
    }

    /// One caller turn.
    pub fn turn(&self, _session: &mut Session, _input: CallerInput) -> Result<Vec<Event>, DialogueError> {
        todo!()
    }

    /// The caller hung up (or closed the chat).
    pub fn hang_up(&self, _session: &mut Session) -> Result<Vec<Event>, DialogueError> {
        todo!()
    }

    /// A stage outside the engine failed (recognition, synthesis, the network): the caller hears a short
    /// apology and is handed to a human with the transcript so far. Never fails itself.
    pub fn fail(&self, _session: &mut Session, _what: &str) -> Vec<Event> {
        todo!()
    }
}

//! `PhoneLine.Converse`: one gRPC stream, one call. The stream's life, top to bottom:
//!
//! 1. read the first message, which must be the set-up, and check it (a gRPC status if not);
//! 2. take a call slot (RESOURCE_EXHAUSTED when all are busy);
//! 3. start the call (the [`CallRunner`]) with an input and an output channel;
//! 4. the *reader* checks each platform message and passes it on as a [`CallInput`], reporting bad
//!    ones in the stream; when the platform's side closes, breaks, or the server shuts down, it closes
//!    the call's input, which is how the call learns the caller is gone;
//! 5. the *forwarder* turns each [`CallOutput`] into an [`pb::AssistantMessage`] until `CallEnded`.
//!
//! A platform that vanishes never stops a call half-way: the forwarder keeps draining the call's
//! outputs, so the call runs to its end (client_gone) and frees its slot.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::proto as pb;
use super::wire::{self, Opening, WireError};
use crate::call::{CallError, CallInput, CallOutput, CallSetup, EndReason, Switchboard};

/// What runs a call behind the wire. The [`Switchboard`] in production; the wire's own tests run a
/// scripted call so every rule of the protocol is checked without loading models.
pub trait CallRunner: Send + Sync + 'static {
    /// Whether a call with this set-up can be taken, before any audio flows.
    fn check_setup(&self, setup: &CallSetup) -> Result<(), CallError>;

    /// Run one call to its end: read `inputs` until hang-up or close, send everything on `outputs`, the
    /// last being `CallEnded`.
    fn run(
        self: Arc<Self>,
        setup: CallSetup,
        inputs: mpsc::Receiver<CallInput>,
        outputs: mpsc::Sender<CallOutput>,
    ) -> impl Future<Output = EndReason> + Send;
}

impl CallRunner for Switchboard {
    fn check_setup(&self, setup: &CallSetup) -> Result<(), CallError> {
        Switchboard::check_setup(self, setup)
    }

    fn run(
        self: Arc<Self>,
        setup: CallSetup,
        inputs: mpsc::Receiver<CallInput>,
        outputs: mpsc::Sender<CallOutput>,
    ) -> impl Future<Output = EndReason> + Send {
        Switchboard::run(self, setup, inputs, outputs)
    }
}

/// How long a new stream may take to send its set-up. Platforms send it the moment the call is
/// answered; a stream silent for this long is a stuck client, not a slow one.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Messages buffered between the wire and the call, each way: 64 × 20 ms is over a second of audio,
/// enough to ride out a busy moment without letting a stalled side pile up memory.
const CHANNEL_DEPTH: usize = 64;

/// The `PhoneLine` gRPC service.
pub struct PhoneLineService<R> {
    runner: Arc<R>,
    slots: Arc<Semaphore>,
    max_calls: usize,
    shutdown: watch::Receiver<bool>,
}

impl<R: CallRunner> PhoneLineService<R> {
    /// At most `max_calls` calls at once; `shutdown` turning true ends every call in progress.
    pub fn new(runner: Arc<R>, max_calls: usize, shutdown: watch::Receiver<bool>) -> Self {
        Self { runner, slots: Arc::new(Semaphore::new(max_calls)), max_calls, shutdown }
    }

    /// Read and check the set-up, the first message of the stream.
    async fn opening(&self, inbound: &mut Streaming<pb::CallerMessage>) -> Result<Opening, Status> {
        let first = tokio::time::timeout(SETUP_TIMEOUT, inbound.message()).await.map_err(|_| {
            Status::deadline_exceeded(format!(
                "no CallSetup within {} s of opening the stream; send CallSetup as the first message",
                SETUP_TIMEOUT.as_secs()
            ))
        })??;
        let message = first.ok_or_else(|| WireError::NoSetup.status())?;
        match message.message {
            Some(pb::caller_message::Message::Setup(setup)) => {
                wire::opening(setup, new_call_id).map_err(|error| error.status())
            }
            Some(other) => Err(WireError::FirstNotSetup { got: wire::kind_name(&other) }.status()),
            None => Err(WireError::FirstNotSetup { got: "an empty CallerMessage" }.status()),
        }
    }
}

/// A call id for a set-up that brought none: unique within this server's life and readable in logs.
fn new_call_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("call-{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S"), NEXT.fetch_add(1, Ordering::Relaxed))
}

type Outbound = mpsc::Sender<Result<pb::AssistantMessage, Status>>;

#[tonic::async_trait]
impl<R: CallRunner> pb::phone_line_server::PhoneLine for PhoneLineService<R> {
    type ConverseStream = Pin<Box<ReceiverStream<Result<pb::AssistantMessage, Status>>>>;

    async fn converse(
        &self,
        request: Request<Streaming<pb::CallerMessage>>,
    ) -> Result<Response<Self::ConverseStream>, Status> {
        let mut inbound = request.into_inner();
        let Opening { setup } = self.opening(&mut inbound).await?;
        let started = Instant::now();
        self.runner.check_setup(&setup).map_err(|error| match error {
            CallError::Unsupported(reason) => WireError::Refused(reason).status(),
            CallError::Models(reason) => Status::internal(format!("the speech models are not available: {reason}")),
        })?;
        let slot = self.slots.clone().try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "all {} call slots of this server are busy; retry shortly, or raise max_calls (helpline serve \
                 --max-calls) if the machine has room",
                self.max_calls
            ))
        })?;
        tracing::info!(call = %setup.call_id, encoding = ?setup.encoding, rate = setup.sample_rate, pacing = ?setup.pacing, "call set up");

        let (inputs, call_inputs) = mpsc::channel(CHANNEL_DEPTH);
        let (call_outputs, outputs) = mpsc::channel(CHANNEL_DEPTH);
        let (outbound, stream) = mpsc::channel(CHANNEL_DEPTH);
        let hang_up_id = Arc::new(Mutex::new(None));
        let reader = Reader {
            setup: setup.clone(),
            started,
            next_sequence: None,
            hung_up: false,
            hang_up_id: hang_up_id.clone(),
            outbound: outbound.clone(),
        };
        tokio::spawn(reader.run(inbound, inputs, self.shutdown.clone()));
        let call = tokio::spawn(self.runner.clone().run(setup.clone(), call_inputs, call_outputs));
        tokio::spawn(forward(setup.call_id, call, outputs, outbound, hang_up_id, slot));
        Ok(Response::new(Box::pin(ReceiverStream::new(stream))))
    }
}

/// Send the call's outputs to the platform until `CallEnded`, then wait for the call to finish and
/// free its slot. Keeps draining after the platform has gone, so the call is never blocked mid-reply.
async fn forward(
    call_id: String,
    call: tokio::task::JoinHandle<EndReason>,
    mut outputs: mpsc::Receiver<CallOutput>,
    outbound: Outbound,
    hang_up_id: Arc<Mutex<Option<String>>>,
    slot: OwnedSemaphorePermit,
) {
    let mut platform_listening = true;
    let mut ended = false;
    while let Some(output) = outputs.recv().await {
        ended = matches!(output, CallOutput::CallEnded { .. });
        let mut message = wire::assistant_message(output);
        if ended {
            message.client_message_id = hang_up_id.lock().map(|mut id| id.take()).ok().flatten().unwrap_or_default();
        }
        if platform_listening && outbound.send(Ok(message)).await.is_err() {
            tracing::info!(call = %call_id, "the platform stopped listening; the call runs to its end unheard");
            platform_listening = false;
        }
        if ended {
            break;
        }
    }
    drop(outputs);
    match call.await {
        Ok(reason) => tracing::info!(call = %call_id, reason = reason.as_str(), "call ended"),
        Err(failure) => {
            tracing::error!(call = %call_id, %failure, "the call stopped without ending properly");
            if !ended {
                let _ = outbound
                    .send(Err(Status::internal(format!(
                        "call {call_id} stopped on an internal failure ({failure}); transfer the caller to an agent"
                    ))))
                    .await;
            }
        }
    }
    drop(slot);
}

/// Resolves once the server starts shutting down.
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    // The borrowed value is dropped here, so the future stays Send.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// The platform's side of one call: checks each message and passes it to the call.
struct Reader {
    setup: CallSetup,
    started: Instant,
    /// The sequence number the next audio chunk should carry, to log lost or reordered packets.
    next_sequence: Option<u64>,
    hung_up: bool,
    hang_up_id: Arc<Mutex<Option<String>>>,
    outbound: Outbound,
}

impl Reader {
    async fn run(
        mut self,
        mut inbound: Streaming<pb::CallerMessage>,
        inputs: mpsc::Sender<CallInput>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let call_id = self.setup.call_id.clone();
        loop {
            let next = tokio::select! {
                biased;
                _ = stopping(&mut shutdown) => {
                    // The call hands the caller to a person (its `Handoff` follows), then ends.
                    let _ = inputs.send(CallInput::ServiceStopping).await;
                    self.report_fatal(
                        pb::ErrorCode::Internal,
                        "the server is shutting down; the call ends now and the caller is handed to a person",
                    )
                    .await;
                    break;
                }
                next = inbound.message() => next,
            };
            match next {
                Ok(Some(message)) => {
                    let id = message.client_message_id;
                    match self.check(message.message) {
                        Ok(input) => {
                            if input == CallInput::HangUp {
                                self.hung_up = true;
                                if let Ok(mut slot) = self.hang_up_id.lock() {
                                    *slot = Some(id).filter(|id| !id.is_empty());
                                }
                            }
                            if inputs.send(input).await.is_err() {
                                break; // the call has ended; nothing more to pass on
                            }
                        }
                        Err(error) => self.report(id, &error).await,
                    }
                }
                Ok(None) => {
                    tracing::debug!(call = %call_id, "the platform closed its side of the stream");
                    break;
                }
                Err(status) => {
                    // A broken connection or bytes that are not a CallerMessage: either way the platform
                    // cannot be read any more. Tell it (if it still listens) and let the call end.
                    tracing::info!(call = %call_id, %status, "cannot read the platform's stream");
                    let message = format!("cannot read the call's stream: {}", status.message());
                    self.report_fatal(pb::ErrorCode::InvalidInput, &message).await;
                    break;
                }
            }
        }
        // Dropping `inputs` here tells the call the platform is gone (unless it already hung up).
    }

    /// A message as the call's input.
    fn check(&mut self, message: Option<pb::caller_message::Message>) -> Result<CallInput, WireError> {
        let message = message.ok_or(WireError::EmptyMessage)?;
        if self.hung_up {
            return Err(WireError::AfterHangUp { got: wire::kind_name(&message) });
        }
        if let pb::caller_message::Message::Audio(chunk) = &message {
            wire::check_chunk(chunk)?;
            if let Some(expected) = self.next_sequence.filter(|expected| *expected != chunk.sequence) {
                tracing::debug!(call = %self.setup.call_id, expected, got = chunk.sequence, "audio chunk out of sequence");
            }
            self.next_sequence = Some(chunk.sequence.wrapping_add(1));
        }
        wire::call_input(message)
    }

    fn at_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    async fn report(&self, client_message_id: String, error: &WireError) {
        tracing::debug!(call = %self.setup.call_id, %error, "refused a platform message");
        let _ = self.outbound.send(Ok(wire::error_message(self.at_ms(), client_message_id, error))).await;
    }

    async fn report_fatal(&self, code: pb::ErrorCode, message: &str) {
        let error = pb::AssistantMessage {
            at_ms: self.at_ms(),
            client_message_id: String::new(),
            event: Some(pb::assistant_message::Event::Error(pb::Error {
                code: code as i32,
                message: message.to_string(),
                fatal: true,
            })),
        };
        let _ = self.outbound.send(Ok(error)).await;
    }
}

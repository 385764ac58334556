//! The server's life: load what every call shares, listen, serve `PhoneLine` and `AgentQueue` with gRPC
//! health and reflection beside them, and stop gracefully (calls in progress get `CallEnded`).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

use super::agent_queue::AgentQueueService;
use super::config::ServeConfig;
use super::converse::{CallRunner, PhoneLineService};
use super::proto as pb;
use super::ServiceError;
use crate::call::{Switchboard, SwitchboardConfig};
use crate::dialogue::{Engine, Line};
use crate::models::ModelDir;
use crate::nlu::encoder::SentenceEncoder;
use crate::store::Store;

/// The gRPC services this server reports in `grpc.health.v1.Health`.
pub const SERVICE_NAMES: [&str; 2] = [pb::phone_line_server::SERVICE_NAME, pb::agent_queue_server::SERVICE_NAME];

/// How long a stopping server lets calls in progress reach `CallEnded` before it stops regardless:
/// a call only has to finish the sentence it is synthesising, well under a second on this hardware.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What every call shares, loaded once: the store, the line and its dialogue engine, the speech models.
pub struct Assistant {
    pub switchboard: Arc<Switchboard>,
    pub store: Arc<dyn Store>,
    /// The sentence encoder the line's understanding and FAQ share (benchmarks clear its memory).
    pub encoder: Arc<SentenceEncoder>,
    /// The line's name, for logs.
    pub line: String,
}

impl Assistant {
    /// Load everything in start-up order: the store (seeded with the line's customers), the sentence
    /// encoder, the line, the engine, the switchboard with its speech models. Blocking; seconds.
    pub fn load(config: &ServeConfig, models: &ModelDir) -> Result<Self, ServiceError> {
        let store = open_store(&config.store, &config.line)?;
        let encoder = Arc::new(SentenceEncoder::load(models)?);
        let line = Arc::new(Line::load(&config.line, encoder.clone(), models)?);
        let name = line.name.clone();
        let switchboard_config = SwitchboardConfig {
            asr_model: config.asr_model.clone(),
            workers: config.workers,
            max_call_seconds: line.voice.max_call_seconds,
        };
        let engine = Arc::new(Engine::new(line, store.clone()));
        let switchboard = Arc::new(Switchboard::load(models, engine, switchboard_config)?);
        Ok(Self { switchboard, store, encoder, line: name })
    }
}

/// Open the database (creating its folder) and seed it with the line's sample customers.
fn open_store(path: &Path, line: &Path) -> Result<Arc<dyn Store>, ServiceError> {
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)
            .map_err(|source| ServiceError::StoreFolder { path: folder.to_path_buf(), source })?;
    }
    let store: Arc<dyn Store> = Arc::new(crate::store::SqliteStore::open(path)?);
    // Re-seeding on every start is safe (customers are upserted) and keeps the sample line's customers
    // as the line's files describe them.
    let customers = line.join("customers.yml");
    if customers.is_file() {
        crate::store::seed(store.as_ref(), &customers)?;
    }
    Ok(store)
}

/// A server listening and serving; stop it with [`RunningServer::shutdown`].
pub struct RunningServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    health: HealthReporter,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl RunningServer {
    /// The address it listens on (the real port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL a client connects to.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop taking calls, end the calls in progress (each gets a fatal `Error` and `CallEnded`), and
    /// wait up to [`SHUTDOWN_GRACE`] for them.
    pub async fn shutdown(self) -> Result<(), ServiceError> {
        for name in SERVICE_NAMES {
            self.health.set_service_status(name, ServingStatus::NotServing).await;
        }
        let _ = self.stop.send(true);
        let mut task = self.task;
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
            Ok(Ok(served)) => served.map_err(ServiceError::Transport),
            Ok(Err(failure)) => Err(ServiceError::Stopped(failure.to_string())),
            Err(_) => {
                tracing::warn!("calls still running {} s after shutdown; stopping anyway", SHUTDOWN_GRACE.as_secs());
                task.abort();
                Ok(())
            }
        }
    }
}

/// Bind `addr` (port 0 for any free port).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServiceError> {
    TcpListener::bind(addr).await.map_err(|source| ServiceError::Bind { addr, source })
}

/// Serve calls run by `runner` and the agents' queue over `store` on `listener`, at most `max_calls`
/// calls at once, until [`RunningServer::shutdown`].
pub async fn start<R: CallRunner>(
    listener: TcpListener,
    runner: Arc<R>,
    store: Arc<dyn Store>,
    max_calls: usize,
) -> Result<RunningServer, ServiceError> {
    let addr = listener.local_addr().map_err(ServiceError::Listener)?;
    let (stop, stopped) = watch::channel(false);
    let (health, health_service) = tonic_health::server::health_reporter();
    for name in SERVICE_NAMES {
        health.set_service_status(name, ServingStatus::Serving).await;
    }
    // Both reflection versions: grpcurl and most tools ask for v1 first; older ones only know v1alpha.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1().map_err(ServiceError::Reflection)?;
    let reflection_v1alpha = reflection().build_v1alpha().map_err(ServiceError::Reflection)?;
    let phone_line = PhoneLineService::new(runner, max_calls, stopped.clone());
    let router = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(pb::phone_line_server::PhoneLineServer::new(phone_line))
        .add_service(pb::agent_queue_server::AgentQueueServer::new(AgentQueueService::new(store)));
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut until_stopped = stopped;
    let task = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async move {
        let _ = until_stopped.wait_for(|stop| *stop).await;
    }));
    Ok(RunningServer { addr, stop, health, task })
}

/// `helpline serve`: load, listen, log one line, serve until Ctrl-C or SIGTERM, stop gracefully.
pub async fn serve(config: ServeConfig, models: ModelDir) -> Result<(), ServiceError> {
    let loading = config.clone();
    let assistant = tokio::task::spawn_blocking(move || Assistant::load(&loading, &models))
        .await
        .map_err(|failure| ServiceError::Stopped(failure.to_string()))??;
    let listener = bind(config.listen).await?;
    let server = start(listener, assistant.switchboard, assistant.store, config.max_calls).await?;
    eprintln!("listening on {} (line {})", server.addr(), assistant.line);
    stop_signal().await;
    eprintln!("stopping: ending the calls in progress");
    server.shutdown().await
}

/// Ctrl-C, or SIGTERM (what service managers and containers send).
async fn stop_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot watch for SIGTERM; stop with Ctrl-C");
                std::future::pending::<()>().await
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

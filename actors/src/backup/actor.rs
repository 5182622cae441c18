//! The backup actor: takes a backup every `backup.interval` (counted from the newest backup on
//! disk, so restarts keep the rhythm; a fresh install waits one interval) and on demand
//! (`BackupMsg::Now`), then applies retention. The work runs in a task of its own so the
//! mailbox stays responsive and a shutdown never waits on a long copy; a request that arrives
//! while a backup runs gets the NEXT backup, which starts right after. A failure is counted,
//! logged WARN and retried sooner; it never takes the daemon down.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chatseal_schema::Store;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::board::BackupBoard;
use super::catalog::list;
use super::error::BackupError;
use super::fsio::blocking;
use super::manifest::Manifest;
use super::pg::PgDump;
use super::retention::Retention;
use super::take::{prune, take_backup};
use crate::clock::SharedClock;
use crate::telemetry::names as m;

/// How soon a failed backup is tried again (or the interval, when shorter).
const RETRY_AFTER: Duration = Duration::from_secs(600);

/// What the backup actor is started with, from `[backup]` and the daemon's shared handles.
#[derive(Clone)]
pub struct BackupArgs {
    /// The store backed up.
    pub store: Store,
    /// The store URL with its password (pg_dump needs it); never logged.
    pub source_url: String,
    /// `backup.dir`: one folder per backup.
    pub dir: PathBuf,
    /// `backup.interval`: time between scheduled backups, counted from the newest on disk.
    pub interval: Duration,
    /// `backup.keep` and `backup.keep_daily`: what is deleted after each backup.
    pub retention: Retention,
    /// Which pg_dump a PostgreSQL backup uses.
    pub pg_dump: PgDump,
    /// The daemon's clock: when a backup is due, and its id.
    pub clock: SharedClock,
    /// Where each outcome is recorded for `/v1/status`.
    pub board: BackupBoard,
    /// Cluster mode: the backup role's fence while this member holds it. Scheduled backups
    /// run only on the holder, and each is recorded with the fence checked by the store.
    pub role: Option<tokio::sync::watch::Receiver<Option<chatseal_schema::ownership::roles::Fence>>>,
}

impl std::fmt::Debug for BackupArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupArgs")
            .field("store", &self.store.redacted_url())
            .field("dir", &self.dir)
            .field("interval", &self.interval)
            .field("retention", &self.retention)
            .field("pg_dump", &self.pg_dump)
            .finish()
    }
}

/// Why a backup was not taken: what the backup reported, or its task ending abnormally. Cloned
/// to every caller waiting on the same backup.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BackupFailed {
    /// The backup itself failed.
    #[error(transparent)]
    Backup(Arc<BackupError>),
    /// The backup task panicked or was cancelled.
    #[error("the backup task stopped unexpectedly: {0}")]
    TaskEnded(#[source] Arc<tokio::task::JoinError>),
}

type Reply = RpcReplyPort<Result<Manifest, BackupFailed>>;

/// The backup actor's mailbox.
pub enum BackupMsg {
    /// Periodic check whether a backup is due.
    Tick,
    /// Take a backup now; replies with its manifest (or why it failed).
    Now(Reply),
    /// The backup task finished.
    Done(Box<Result<Manifest, BackupFailed>>),
}

/// The backup actor's state: whether a backup runs, who waits for it, when the next is due.
pub struct BackupState {
    args: BackupArgs,
    running: bool,
    /// Answered by the backup in flight.
    waiting: Vec<Reply>,
    /// Asked while a backup ran: answered by the next one.
    queued: Vec<Reply>,
    next_due_ms: i64,
}

/// Takes the scheduled and requested backups (see the module doc).
pub struct BackupActor;

impl Actor for BackupActor {
    type Msg = BackupMsg;
    type State = BackupState;
    type Arguments = BackupArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<BackupMsg>,
        args: BackupArgs,
    ) -> Result<BackupState, ActorProcessingErr> {
        fail::fail_point!("backup.pre_start", |_| Err("failpoint backup.pre_start".into()));
        let dir = args.dir.clone();
        let newest = match blocking(move || list(&dir)).await {
            Ok(listed) => listed.into_iter().find_map(|l| l.manifest),
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the existing backups; the next one is due in one interval");
                None
            }
        };
        let now = args.clock.now_ms();
        let interval_ms = args.interval.as_millis() as i64;
        let next_due_ms = match &newest {
            Some(latest) => {
                args.board.found_on_disk(latest);
                metrics::gauge!(m::BACKUP_LAST_SUCCESS).set(latest.created_at as f64);
                metrics::gauge!(m::BACKUP_SIZE_BYTES).set(latest.size_bytes as f64);
                latest.created_at * 1000 + interval_ms
            }
            None => now + interval_ms,
        };
        let tick = (args.interval / 4).clamp(Duration::from_secs(1), Duration::from_secs(30));
        myself.send_interval(tick, || BackupMsg::Tick);
        Ok(BackupState { args, running: false, waiting: Vec::new(), queued: Vec::new(), next_due_ms })
    }

    async fn handle(
        &self,
        myself: ActorRef<BackupMsg>,
        msg: BackupMsg,
        st: &mut BackupState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            BackupMsg::Tick => {
                let holds_role = st.args.role.as_ref().is_none_or(|r| r.borrow().is_some());
                if holds_role && !st.running && st.args.clock.now_ms() >= st.next_due_ms {
                    st.start(&myself, Vec::new());
                }
            }
            BackupMsg::Now(reply) => {
                if st.running {
                    st.queued.push(reply);
                } else {
                    st.start(&myself, vec![reply]);
                }
            }
            BackupMsg::Done(result) => {
                st.running = false;
                let now = st.args.clock.now_ms();
                match &*result {
                    Ok(manifest) => {
                        let fence = st.args.role.as_ref().and_then(|r| r.borrow().clone());
                        if let Some(f) = fence {
                            let detail = format!("backup {} taken by {}", manifest.id, f.holder);
                            if let Err(e) = st
                                .args
                                .store
                                .audit_fenced(now.div_euclid(1000), "backup", &manifest.id, &detail, &f)
                                .await
                            {
                                tracing::error!(error = %e, backup = %manifest.id, "the backup's record was refused: this member no longer holds the backup role");
                            }
                        }
                        st.args.board.succeeded(manifest);
                        st.next_due_ms = now + st.args.interval.as_millis() as i64;
                    }
                    Err(e) => {
                        st.args.board.failed(now.div_euclid(1000), e.to_string());
                        st.next_due_ms = now + st.args.interval.min(RETRY_AFTER).as_millis() as i64;
                    }
                }
                for reply in st.waiting.drain(..) {
                    let _ = reply.send((*result).clone());
                }
                if !st.queued.is_empty() {
                    let next = std::mem::take(&mut st.queued);
                    st.start(&myself, next);
                }
            }
        }
        Ok(())
    }
}

impl BackupState {
    fn start(&mut self, myself: &ActorRef<BackupMsg>, replies: Vec<Reply>) {
        self.running = true;
        self.waiting = replies;
        let args = self.args.clone();
        let me = myself.clone();
        tokio::spawn(async move {
            let job = tokio::spawn(run_once(args));
            let result = match job.await {
                Ok(r) => r,
                Err(e) => {
                    metrics::counter!(m::BACKUP_FAILURES_TOTAL).increment(1);
                    Err(BackupFailed::TaskEnded(Arc::new(e)))
                }
            };
            // A restarted actor (new instance) no longer waits for this one.
            let _ = me.cast(BackupMsg::Done(Box::new(result)));
        });
    }
}

/// One backup plus retention, with its metrics and logs.
async fn run_once(args: BackupArgs) -> Result<Manifest, BackupFailed> {
    let now = args.clock.now_ms();
    let started = std::time::Instant::now();
    match take_backup(&args.store, &args.source_url, &args.dir, now, &args.pg_dump).await {
        Ok(manifest) => {
            metrics::histogram!(m::BACKUP_SECONDS).record(started.elapsed().as_secs_f64());
            metrics::gauge!(m::BACKUP_LAST_SUCCESS).set(manifest.created_at as f64);
            metrics::gauge!(m::BACKUP_SIZE_BYTES).set(manifest.size_bytes as f64);
            tracing::info!(backup = %manifest.id, bytes = manifest.size_bytes, sealed_epochs = manifest.sealed_epochs, method = manifest.method.as_str(), elapsed = ?started.elapsed(), "backup taken and verified");
            if let Err(e) = prune(&args.dir, args.retention, now.div_euclid(1000)).await {
                tracing::warn!(error = %e, "retention could not delete old backups; they are retried after the next backup");
            }
            Ok(manifest)
        }
        Err(e) => {
            metrics::counter!(m::BACKUP_FAILURES_TOTAL).increment(1);
            if matches!(e, BackupError::SealsDamaged { .. }) {
                tracing::error!(error = %e, "backup failed: the live store's seals do not verify");
            } else {
                tracing::warn!(error = %e, dir = %args.dir.display(), "backup failed; retried later");
            }
            Err(BackupFailed::Backup(Arc::new(e)))
        }
    }
}

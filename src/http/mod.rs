//! The HTTP server (axum on a hyper-util accept loop): /metrics, /healthz, /readyz and the JSON
//! API on one listener, within the `[http]` limits (`limits.rs`, `serve.rs`).

pub mod admin;
pub mod cluster;
pub mod epochs;
pub mod error;
pub mod export;
pub mod extract;
pub mod health;
pub mod idle;
pub mod limits;
pub mod publish;
pub mod serve;
pub mod viewer;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chatseal_actors::backup::BackupBoard;
use chatseal_actors::channel::ChannelBoard;
use chatseal_actors::clock::SharedClock;
use chatseal_actors::sealer::limits::ProgramLimits;
use chatseal_actors::supervisor::SupervisorMsg;
use chatseal_actors::telemetry::names as m;
use chatseal_actors::Routes;
use chatseal_schema::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use ractor::ActorRef;
use tokio::net::TcpListener;

use crate::damaged_seals::DamagedSeals;
use crate::opt_outs::OptOuts;
use crate::proofs::ProofSources;
use crate::proofs_cache::TreeCache;
use crate::settings::{Secret, Settings};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The daemon's store (SQLite or PostgreSQL).
    pub store: Store,
    /// Live status of each channel reader (`/v1/status`, `/v1/cluster`).
    pub board: ChannelBoard,
    /// Registered names of this daemon's actors: the manual seal and backup, `/readyz`.
    pub routes: Routes,
    /// The supervisor, asked for its children by `/readyz`.
    pub supervisor: ActorRef<SupervisorMsg>,
    /// Renders the Prometheus text of `/metrics`.
    pub prom: PrometheusHandle,
    /// `epoch.length` in seconds (at least 1).
    pub epoch_len: i64,
    /// `epoch.grace` in ms: an epoch can be sealed by hand once its end plus this has passed.
    pub grace_ms: i64,
    /// `http.admin_token`: the bearer token the `/v1/admin/*` routes require.
    pub admin_token: Secret,
    /// Lowercase logins that opted out, shared with the channel readers (which drop their lines)
    /// and kept current by the daemon's opt-out sync; `POST /v1/admin/opt-out` adds to it.
    pub opt_outs: Arc<OptOuts>,
    /// Seals found not to match their digest (refused for proofs and publishing), and whether
    /// the start-up digest check has finished.
    pub damaged: Arc<DamagedSeals>,
    /// The daemon's clock (wall or simulated), for "now" in the admin routes and `/v1/status`.
    pub clock: SharedClock,
    /// Built trees of sealed epochs, shared by the proof routes.
    pub trees: Arc<TreeCache>,
    /// Last backup, backup failures and the start-up recovery (`/v1/status`).
    pub backups: BackupBoard,
    /// `[http]` limits: bodies, store routes, connections.
    pub limits: limits::Limits,
    /// This daemon's cluster settings (`/v1/cluster`).
    pub cluster: cluster::ClusterView,
    /// `sealing.decimals`: the viewer's page writes amounts as whole tokens.
    pub decimals: u32,
    /// The channels' latest seals for the viewer's page (read at most once per 5 s).
    pub latest: Arc<crate::viewer::latest::LatestSeals>,
    /// The target program's limits (`sealing.max_claim_leaves`, `sealing.max_proof_len`).
    pub program_limits: ProgramLimits,
}

impl AppState {
    /// The state from the daemon's running parts and its settings; the tree cache, damaged seals,
    /// backup board, cluster view and latest-seals cache start empty (the daemon fills `damaged`,
    /// `backups` and `cluster`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        board: ChannelBoard,
        routes: Routes,
        supervisor: ActorRef<SupervisorMsg>,
        prom: PrometheusHandle,
        settings: &Settings,
        opt_outs: Arc<OptOuts>,
        clock: SharedClock,
    ) -> Self {
        Self {
            store,
            board,
            routes,
            supervisor,
            prom,
            epoch_len: crate::daemon::wiring::secs(settings.epoch.length),
            grace_ms: crate::daemon::wiring::millis(settings.epoch.grace),
            admin_token: settings.http.admin_token.clone(),
            opt_outs,
            damaged: Arc::default(),
            clock,
            trees: Arc::new(TreeCache::default()),
            backups: BackupBoard::default(),
            limits: limits::Limits::from_settings(&settings.http),
            cluster: cluster::ClusterView::default(),
            decimals: settings.sealing.decimals,
            latest: Arc::default(),
            program_limits: crate::daemon::wiring::program_limits(settings),
        }
    }
}

impl AppState {
    /// What the proof routes answer from.
    pub fn proof_sources(&self) -> ProofSources<'_> {
        ProofSources { store: &self.store, trees: &self.trees, opt_outs: &self.opt_outs, damaged: &self.damaged }
    }
}

/// Counts requests by matched route (never the raw path: no logins as labels) and status.
async fn track(req: Request, next: Next) -> Response {
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let started = Instant::now();
    let resp = next.run(req).await;
    metrics::counter!(m::HTTP_REQUESTS_TOTAL, "route" => route.clone(), "status" => resp.status().as_u16().to_string())
        .increment(1);
    metrics::histogram!(m::HTTP_SECONDS, "route" => route).record(started.elapsed().as_secs_f64());
    resp
}

/// One HTTP route: its method and its path pattern (axum's `{name}` placeholders).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// `"GET"` or `"POST"`.
    pub method: &'static str,
    /// The path as axum matches it, e.g. `/v1/epochs/{epoch}/{channel}`.
    pub path: &'static str,
}

/// How a route depends on the store, and so what bounds the time it may take. Every route
/// declares one in [`routes!`], so a new route cannot be served without saying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreUse {
    /// Never touches the store (it asks the actors, each within 2 s, or serves memory).
    Untouched,
    /// Reads or writes the store: answers 503 `store_timeout` past `http.store_timeout`
    /// (`limits::bound_store`).
    Bounded,
    /// Waits on an actor with its own deadline (the manual seal 60 s, the backup 30 min).
    OwnDeadline,
}

/// Every route once: `ROUTES` (read by the docs check, tests/docs.rs), `STORE_USE` and the
/// router's table all come from this list, so a route cannot be served without being listed
/// nor without saying how it uses the store.
macro_rules! routes {
    ($($method:ident $path:literal => $handler:expr, $store:ident;)*) => {
        /// Every route the router serves, in the router's order.
        pub const ROUTES: &[Route] = &[$(Route { method: routes!(@upper $method), path: $path }),*];

        /// How each route uses the store: (method, path, use), in the router's order.
        pub const STORE_USE: &[(&str, &str, StoreUse)] = &[$((routes!(@upper $method), $path, StoreUse::$store)),*];

        fn add_routes(router: Router<AppState>) -> Router<AppState> {
            router $(.route($path, $method($handler)))*
        }
    };
    (@upper get) => { "GET" };
    (@upper post) => { "POST" };
}

routes! {
    get "/metrics" => health::metrics, Untouched;
    get "/healthz" => health::healthz, Untouched;
    get "/readyz" => health::readyz, Untouched;
    get "/v1/status" => health::status, Bounded;
    get "/v1/epochs" => epochs::list, Bounded;
    get "/v1/epochs/{epoch}/{channel}" => epochs::one, Bounded;
    get "/v1/epochs/{epoch}/{channel}/proof/{login}" => epochs::proof, Bounded;
    get "/v1/epochs/{epoch}/{channel}/claim/{login}" => epochs::claim, Bounded;
    get "/v1/cluster" => cluster::cluster, Bounded;
    post "/v1/admin/opt-out" => admin::opt_out, Bounded;
    post "/v1/admin/seal" => admin::seal, OwnDeadline;
    post "/v1/admin/backup" => admin::backup, OwnDeadline;
    post "/v1/admin/channels" => admin::channels, Bounded;
    get "/v1/users/{login}/epochs" => viewer::user_epochs, Bounded;
    get "/" => viewer::index, Bounded;
    get "/claims" => viewer::claims, Bounded;
    get "/v1/epochs/{epoch}/{channel}/export" => export::bundle, Bounded;
    post "/v1/admin/published" => publish::published, Bounded;
}

/// True when the route `method path` (axum's matched path) reads or writes the store and so is
/// bounded by `http.store_timeout`.
pub fn store_bounded(method: &str, path: &str) -> bool {
    STORE_USE.iter().any(|(m, p, u)| *m == method && *p == path && *u == StoreUse::Bounded)
}

/// The router of every route in [`ROUTES`] with its fallbacks (404, 405 as JSON errors) and the
/// layers: request metrics, body bound, store-route timeout.
pub fn router(state: AppState) -> Router {
    let l = state.limits;
    add_routes(Router::new())
        .fallback(|| async { error::ApiError::new(axum::http::StatusCode::NOT_FOUND, "not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            error::ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(middleware::from_fn_with_state(l, limits::bound_store))
        .layer(DefaultBodyLimit::max(l.max_body_bytes))
        .layer(middleware::from_fn_with_state(l, limits::bound_body))
        .layer(middleware::from_fn(track))
        .with_state(state)
}

/// Serves until `shutdown` resolves, within the `[http]` limits (see `serve.rs`).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.limits;
    serve::serve_limited(listener, router(state), limits, shutdown).await
}

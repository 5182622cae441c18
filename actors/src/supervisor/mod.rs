//! Supervision: the restart policy and restart plan (pure) and the supervisor actor that
//! applies them to the pipeline; the channel supervisor and its reconcile decisions (pure).
pub mod actor;
pub mod channels;
pub mod plan;
pub mod policy;
pub mod reconcile;

pub use actor::{Child, Supervisor, SupervisorArgs, SupervisorMsg};
pub use channels::{ChannelSupMsg, ChannelSupervisor, ChannelSupervisorArgs};
pub use plan::{Exit, RestartType};
pub use policy::{Decision, RestartPolicy, RestartTracker};
pub use reconcile::{reconcile, ChannelRestartPolicy, Plan, Slot};

//! Supervision: the restart policy and restart plan (pure) and the supervisor actor that
//! applies them.
pub mod actor;
pub mod plan;
pub mod policy;

pub use actor::{Child, Supervisor, SupervisorArgs, SupervisorMsg};
pub use plan::{Exit, RestartType};
pub use policy::{Decision, RestartPolicy, RestartTracker};

//! Supervision: the restart policy (pure) and the supervisor actor that applies it.
pub mod actor;
pub mod policy;

pub use actor::{Child, Supervisor, SupervisorArgs, SupervisorMsg};
pub use policy::{Decision, RestartPolicy, RestartTracker};

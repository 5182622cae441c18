//! Who hears that an epoch has closed. The clock publishes each newly closed epoch to a list
//! of subscribers it knows only through [`EpochSubscriber`]: the sealer subscribes (see
//! `sealer::SealerSubscription`), and so can anything else that acts on closed epochs, without
//! the clock naming it.

use std::sync::Arc;

/// Something told of closed epochs.
pub trait EpochSubscriber: Send + Sync {
    /// Every epoch through `epoch` (its start, Unix seconds) has closed. Returns false when the
    /// subscriber could not take the news right now (it is restarting, say): the clock tells
    /// it again at each tick until one delivery succeeds, then not again for that epoch.
    fn epoch_closed(&self, epoch: i64) -> bool;
}

/// The subscribers of one clock, told in this order.
pub type Subscribers = Vec<Arc<dyn EpochSubscriber>>;

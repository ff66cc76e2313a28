//! The notifications domain, free of transport types: the model ([`model`]), validation
//! and scrubbing of a Publish ([`draft`], [`scrub`]), the retained set and its indexes
//! ([`book`]), change events and the replay log ([`events`]), and the [`store`] that ties
//! them together with retention and the live broadcast.

pub mod book;
pub mod draft;
pub mod events;
pub mod model;
pub mod scrub;
pub mod store;

pub use draft::{Checked, DraftInput, RelatedInput, Violation, check};
pub use events::{Change, DeleteReason, Event, ResyncReason};
pub use model::{
    Category, DedupKey, Draft, EntityKind, Level, Notification, NotificationId, Related,
};
pub use store::{Beginning, Page, Published, Store, StoreSettings, Subscription, Target};

//! The gRPC layer: handlers ([`service`]) that check requests ([`request`]), call the
//! engine or the store, and convert answers ([`convert`]); the Watch stream ([`watch`]).

pub mod convert;
pub mod request;
pub mod service;
pub mod watch;

pub use service::JobsService;

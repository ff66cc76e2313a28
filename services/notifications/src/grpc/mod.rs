//! The gRPC layer: request checks ([`request`]), conversions ([`convert`]), the handlers
//! ([`service`]) and the Subscribe stream ([`subscribe`]). It only converts; the
//! behaviour is in [`crate::domain`].

pub mod convert;
pub mod request;
pub mod service;
pub mod subscribe;

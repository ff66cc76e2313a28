//! The gRPC face of the service: request checks ([`request`]), domain → proto
//! conversion ([`convert`]), the Watch stream ([`watch`]) and the handlers ([`service`]).

pub mod convert;
pub mod request;
pub mod service;
pub mod watch;

//! The fleet model and everything computed from it, with no transport types: records
//! ([`model`]), conversion of the agent's `inventory.collect` data ([`convert`]), the
//! revisioned model and its diffs ([`fleet`]), the change log ([`history`]), VM queries
//! ([`query`]), the summary ([`summary`]) and the lockable [`store::Store`] that ties them
//! together for the refresh engine and the gRPC layer.

pub mod changes;
pub mod convert;
pub mod fleet;
pub mod history;
pub mod intern;
pub mod model;
pub mod order;
pub mod query;
pub mod search;
pub mod store;
pub mod summary;
pub mod table;

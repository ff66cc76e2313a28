//! The route handlers: each validates its parameters, calls the services and converts
//! their answers to the API's JSON. No business logic: the services decide. Mutations
//! submit jobs ([`submit`]).

pub mod changes;
pub mod devices;
pub mod hosts;
pub mod inventory;
pub mod jobs;
pub mod notifications;
pub mod power;
pub mod schemas;
pub mod submit;
pub mod system;
pub mod vms;

use axum::extract::Path;
use axum::extract::rejection::PathRejection;

use crate::error::HttpError;

/// The one path parameter of a route, or a 400 naming it.
pub fn path_param(
    name: &str,
    path: Result<Path<String>, PathRejection>,
) -> Result<String, HttpError> {
    path.map(|Path(value)| value)
        .map_err(|rejection| HttpError::bad_parameter(name, rejection.body_text()))
}

//! The route handlers: each validates its parameters, calls the services and converts
//! their answers to the API's JSON. No business logic: the services decide.

pub mod inventory;
pub mod power;
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

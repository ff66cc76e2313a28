//! The request line (`schemas/agent/request.schema.json`): built and validated on the
//! control-plane side, decoded and checked on the agent side (the simulator), with the
//! protocol error the agent must answer when it is wrong.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::agent_error::{
    AgentError, ErrorDetails, FieldError, InvalidRequestDetails, UnsupportedOperationDetails,
    UnsupportedProtocolDetails,
};
use crate::ids::CorrelationId;
use crate::operation::{Operation, OperationParams, Params};
use crate::schema::{SchemaError, validate_params, validate_request};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// A validated request: `{"protocol":1,"operation":…,"correlation_id":…,"params":{…}}`.
/// Only built by [`AgentRequest::new`], [`AgentRequest::from_params`] and
/// [`AgentRequest::decode`], so it is always valid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentRequest {
    protocol: u32,
    operation: Operation,
    correlation_id: CorrelationId,
    params: Map<String, Value>,
}

/// The wire form, read only after schema validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    protocol: u32,
    operation: Operation,
    correlation_id: CorrelationId,
    params: Map<String, Value>,
}

/// A request that cannot be built or decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    /// The line is not a JSON object.
    #[error("the request line is not a json object: {0}")]
    NotJson(String),
    /// The protocol version is not [`PROTOCOL_VERSION`].
    #[error("unsupported protocol version {requested:?}")]
    UnsupportedProtocol {
        /// The version named, if an integer.
        requested: Option<i64>,
    },
    /// The operation is not one of [`Operation::ALL`].
    #[error("unsupported operation {operation:?}")]
    UnsupportedOperation {
        /// The name given.
        operation: String,
    },
    /// The request or its params break the schema or a cross-field rule.
    #[error("invalid request")]
    Invalid(#[source] SchemaError),
    /// Typed params did not serialise to a JSON object.
    #[error("{operation} params do not serialise to an object")]
    Serialize {
        /// The operation.
        operation: Operation,
    },
}

impl RequestError {
    /// The error an agent answers for this request (what the simulator writes).
    pub fn to_agent_error(&self) -> AgentError {
        match self {
            RequestError::NotJson(_) | RequestError::Serialize { .. } => AgentError::new(
                ErrorDetails::InvalidRequest(InvalidRequestDetails {
                    errors: vec![FieldError {
                        pointer: String::new(),
                        message: "is not a json object".to_owned(),
                    }],
                }),
                "the request line is not a json object",
            ),
            RequestError::UnsupportedProtocol { requested } => AgentError::new(
                ErrorDetails::UnsupportedProtocol(UnsupportedProtocolDetails {
                    requested: *requested,
                    supported: vec![PROTOCOL_VERSION],
                }),
                format!(
                    "protocol version {requested:?} is not supported; this agent speaks {PROTOCOL_VERSION}"
                ),
            ),
            RequestError::UnsupportedOperation { operation } => AgentError::new(
                ErrorDetails::UnsupportedOperation(UnsupportedOperationDetails {
                    operation: operation.clone(),
                    supported: Operation::ALL
                        .iter()
                        .map(|o| o.as_str().to_owned())
                        .collect(),
                }),
                format!("operation {operation:?} is not supported"),
            ),
            RequestError::Invalid(error) => {
                let errors = error.field_errors().to_vec();
                let message = match errors.first() {
                    Some(first) => format!("invalid request: {first}"),
                    None => error.to_string(),
                };
                let errors = if errors.is_empty() {
                    vec![FieldError {
                        pointer: String::new(),
                        message: error.to_string(),
                    }]
                } else {
                    errors
                };
                AgentError::new(
                    ErrorDetails::InvalidRequest(InvalidRequestDetails { errors }),
                    message,
                )
            }
        }
    }
}

impl AgentRequest {
    /// Builds a request from raw params, validating them (schema and cross-field rules;
    /// pointers in the error are relative to the params).
    pub fn new(
        operation: Operation,
        correlation_id: CorrelationId,
        params: Map<String, Value>,
    ) -> Result<Self, RequestError> {
        let value = Value::Object(params);
        validate_params(operation, &value).map_err(RequestError::Invalid)?;
        let Value::Object(params) = value else {
            return Err(RequestError::Serialize { operation });
        };
        Ok(Self {
            protocol: PROTOCOL_VERSION,
            operation,
            correlation_id,
            params,
        })
    }

    /// Builds a request from typed params, validating them.
    pub fn from_params<P: OperationParams>(
        correlation_id: CorrelationId,
        params: &P,
    ) -> Result<Self, RequestError> {
        let map = params.to_params().map_err(|_| RequestError::Serialize {
            operation: P::OPERATION,
        })?;
        Self::new(P::OPERATION, correlation_id, map)
    }

    /// Decodes and checks a request line as an agent does: a UTF-8 BOM and a trailing
    /// CR/LF are tolerated; the protocol version is checked first, then the operation,
    /// then the schema and the cross-field rules (pointers relative to the request).
    pub fn decode(line: &str) -> Result<(AgentRequest, Params), RequestError> {
        let line = line
            .trim_start_matches('\u{feff}')
            .trim_end_matches(['\r', '\n']);
        let value: Value = serde_json::from_str(line).map_err(|e| {
            RequestError::NotJson(format!("line {} column {}", e.line(), e.column()))
        })?;
        let Value::Object(object) = &value else {
            return Err(RequestError::NotJson("not an object".to_owned()));
        };
        match object.get("protocol") {
            Some(Value::Number(n)) if n.as_u64() == Some(u64::from(PROTOCOL_VERSION)) => {}
            Some(Value::Number(n)) => {
                return Err(RequestError::UnsupportedProtocol {
                    requested: n.as_i64(),
                });
            }
            _ => return Err(RequestError::UnsupportedProtocol { requested: None }),
        }
        if let Some(Value::String(name)) = object.get("operation")
            && Operation::from_wire(name).is_none()
        {
            return Err(RequestError::UnsupportedOperation {
                operation: name.clone(),
            });
        }
        validate_request(&value).map_err(RequestError::Invalid)?;
        let raw: RawRequest = serde_json::from_value(value).map_err(|_| {
            RequestError::Invalid(SchemaError::Invalid {
                document: "request".to_owned(),
                schema: "request.schema.json".to_owned(),
                errors: vec![FieldError {
                    pointer: String::new(),
                    message: "matches the schema but not the request type".to_owned(),
                }],
            })
        })?;
        let request = AgentRequest {
            protocol: raw.protocol,
            operation: raw.operation,
            correlation_id: raw.correlation_id,
            params: raw.params,
        };
        let params = request.typed_params().map_err(|e| {
            let errors = e
                .field_errors()
                .iter()
                .map(|f| FieldError {
                    pointer: format!("/params{}", f.pointer),
                    message: f.message.clone(),
                })
                .collect();
            RequestError::Invalid(SchemaError::Invalid {
                document: "request".to_owned(),
                schema: crate::schema::params_schema_file(request.operation),
                errors,
            })
        })?;
        Ok((request, params))
    }

    /// The typed params, after the cross-field rules (pointers relative to the params).
    pub fn typed_params(&self) -> Result<Params, SchemaError> {
        let value = Value::Object(self.params.clone());
        validate_params(self.operation, &value)?;
        Params::from_value(self.operation, value).map_err(|_| SchemaError::Invalid {
            document: format!("{} params", self.operation),
            schema: crate::schema::params_schema_file(self.operation),
            errors: vec![FieldError {
                pointer: String::new(),
                message: "matches the schema but not the params type".to_owned(),
            }],
        })
    }

    /// The request as one line of compact JSON ending in `\n`, as the agent reads it.
    pub fn to_json_line(&self) -> String {
        // A struct of strings, numbers and JSON values always serialises.
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        line
    }

    /// The protocol version (always [`PROTOCOL_VERSION`]).
    pub fn protocol(&self) -> u32 {
        self.protocol
    }

    /// The operation.
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// The caller's id for this request.
    pub fn correlation_id(&self) -> &CorrelationId {
        &self.correlation_id
    }

    /// The params.
    pub fn params(&self) -> &Map<String, Value> {
        &self.params
    }
}

//! The WinRM client: configuration, errors, transport and pool, shells, and `run`.

mod config;
mod error;
mod run;
mod shell;
mod transport;

pub use config::{AuthMethod, ClientConfig, NETWORK_DELAY, Password};
pub use error::{Error, TimeoutKind};
pub use run::{CommandSpec, OutputChunk, OutputStream};
#[cfg(test)]
pub(crate) use transport::challenge_token as challenge_token_for_tests;

pub use shell::{CMD_LINE_LIMIT, CREATE_PROCESS_LIMIT, Client, Shell, check_command_line};

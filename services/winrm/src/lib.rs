//! WS-Management / WinRS for Aether-V.
pub mod encryption;
pub mod envelope;
pub mod fault;
pub mod messages;
pub mod ns;
pub(crate) mod ntlm;
pub mod xml;

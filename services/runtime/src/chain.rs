//! Printing an error with its whole `source()` chain on one line, for logs and status
//! messages (error types never repeat their source's message in their own `Display`).

use std::error::Error;
use std::fmt;

/// `"outer: middle: inner"`.
pub fn display_chain(error: &(dyn Error + 'static)) -> String {
    DisplayChain(error).to_string()
}

/// A `Display` adapter that prints an error followed by each of its sources, separated by
/// `": "`. Use it in tracing fields: `error = %DisplayChain(&err)`.
pub struct DisplayChain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("refresh of host hv01 failed")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("inventory.collect did not answer")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn prints_every_source_on_one_line() {
        let error = Outer(Middle(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "timed out after 15s",
        )));
        assert_eq!(
            display_chain(&error),
            "refresh of host hv01 failed: inventory.collect did not answer: timed out after 15s"
        );
    }
}

//! How a command fails: bad usage (exit 2) or bad data (exit 1).

use convnext_codegen::Error;

/// Why a command failed: bad usage (exit 2) or bad data (exit 1).
pub enum Failure {
    /// Flags were wrong.
    Usage(String),
    /// The model, input or output was wrong.
    Model(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Model(e)
    }
}

pub(crate) fn usage(e: String) -> Failure {
    Failure::Usage(e)
}

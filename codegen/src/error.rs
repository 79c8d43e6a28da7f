//! One error type for the whole pipeline. Every variant names the file,
//! tensor or field at fault, so a user can fix the input without a debugger.

use std::fmt;
use std::path::PathBuf;

/// Anything that can go wrong between a checkpoint folder and an output.
#[derive(Debug)]
pub enum Error {
    /// Reading a file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A file is malformed (truncated, bad header, bad JSON, ...).
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where in the file.
        message: String,
    },
    /// A `config.json` field is missing, mistyped or unsupported.
    Config {
        /// The config file.
        path: PathBuf,
        /// The field name.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A checkpoint tensor is missing, misshaped, unused or holds NaN/Inf.
    Tensor {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor's name in the checkpoint.
        name: String,
        /// What is wrong with it.
        message: String,
    },
    /// An input does not fit the model (channels, size, dtype).
    Input {
        /// What is wrong.
        message: String,
    },
    /// The int8 network is further from the f32 reference than allowed
    /// (`quality::check_quality`).
    Quality {
        /// How far, the op to blame, what to do.
        message: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Format {
            path: path.into(),
            message: message.into(),
        }
    }
    pub(crate) fn config(
        path: impl Into<PathBuf>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Config {
            path: path.into(),
            field: field.into(),
            message: message.into(),
        }
    }
    pub(crate) fn tensor(
        path: impl Into<PathBuf>,
        name: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Tensor {
            path: path.into(),
            name: name.into(),
            message: message.into(),
        }
    }
    pub(crate) fn input(message: impl Into<String>) -> Self {
        Self::Input {
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Format { path, message } => write!(f, "{}: {message}", path.display()),
            Self::Config {
                path,
                field,
                message,
            } => {
                write!(f, "{}: field `{field}`: {message}", path.display())
            }
            Self::Tensor {
                path,
                name,
                message,
            } => {
                write!(f, "{}: tensor `{name}`: {message}", path.display())
            }
            Self::Input { message } => write!(f, "input: {message}"),
            Self::Quality { message } => write!(f, "quality: {message}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Result with the pipeline's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

//! What a command's body (in its layer's `cli.rs`) returns to `main`: success, or an error that
//! says whether it was bad configuration (exit 2) or a failure at run time (exit 1). `main` only
//! parses arguments, calls the body and maps this to the exit code.

use std::error::Error as StdError;

/// The error of a command's body.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Bad configuration: the message names the variable, the value and what is accepted.
    #[error("configuration error: {0}")]
    Config(Box<dyn StdError + Send + Sync>),
    /// Something failed while the command ran (binding a port, opening the store, …).
    #[error("{what}: {source}")]
    Failed {
        /// What was being done, e.g. `binding SNIPER_LISTEN=127.0.0.1:8080`.
        what: String,
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

impl CommandError {
    /// A failure while doing `what`.
    pub fn failed(
        what: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        CommandError::Failed {
            what: what.into(),
            source: source.into(),
        }
    }

    /// The process exit code: 2 for bad configuration, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Config(_) => 2,
            CommandError::Failed { .. } => 1,
        }
    }
}

/// Adds what was being done to an error, like `anyhow::Context` but typed.
pub trait Doing<T> {
    /// Wraps the error as [`CommandError::Failed`] with `what`.
    fn doing(self, what: impl FnOnce() -> String) -> Result<T, CommandError>;
}

impl<T, E: Into<Box<dyn StdError + Send + Sync>>> Doing<T> for Result<T, E> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T, CommandError> {
        self.map_err(|e| CommandError::failed(what(), e))
    }
}

/// Makes each listed type a [`CommandError::Config`] (exit 2). Each layer invokes it next to its
/// own configuration error type, so this module (below every layer) names none of them.
macro_rules! config_errors {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for $crate::command::CommandError {
            fn from(e: $t) -> Self {
                $crate::command::CommandError::Config(Box::new(e))
            }
        }
    )*};
}
pub(crate) use config_errors;

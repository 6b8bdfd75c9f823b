//! CLI errors and the exit codes they map to (README, "Exit codes").

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Help or version text; not a failure.
    #[error("{0}")]
    Info(String),
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    BadInput { path: PathBuf, message: String },
    /// The clip needs another base model than the one given.
    #[error("{0}")]
    WrongModel(String),
    /// A needed external tool (ffmpeg) is missing or failed.
    #[error("{0}")]
    Tool(String),
}

impl CliError {
    /// 0 ok, 1 bad input or usage, 2 I/O, 3 wrong base model, 4 external tool.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Info(_) => 0,
            CliError::Usage(_) | CliError::BadInput { .. } => 1,
            CliError::Io { .. } => 2,
            CliError::WrongModel(_) => 3,
            CliError::Tool(_) => 4,
        }
    }

    pub fn bad_input(path: &std::path::Path, message: impl ToString) -> Self {
        CliError::BadInput { path: path.to_path_buf(), message: message.to_string() }
    }
}

//! Configuration errors. Each names the file and, where known, the line, so an operator can fix it at once.

use std::fmt;
use std::path::PathBuf;

/// Where in the configuration a problem is: `file:line`, or just `file` for whole-file problems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file name as given to the loader.
    pub file: String,
    /// One-based line, when the problem has one.
    pub line: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file),
            None => f.write_str(&self.file),
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading config file {}: {source}", path.display())]
    Read {
        /// The path that failed.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid HCL.
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        /// The file name.
        file: String,
        /// One-based line.
        line: usize,
        /// One-based column.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// A value is malformed, missing or contradicts another.
    #[error("{location}: {message}")]
    Invalid {
        /// Where.
        location: Location,
        /// What is wrong, naming the stanza and key.
        message: String,
    },
    /// A valid OpenBao setting that Coffer does not implement (yet).
    #[error("{location}: {message}")]
    Unsupported {
        /// Where.
        location: Location,
        /// What is not supported.
        message: String,
    },
}

//! Why a [`Loader`](super::Loader) could not give a secret or a policy file, and how such an
//! error becomes a world problem's one-line message.
//!
//! It must not hold a secret: no message quotes one.

/// Why a [`Loader`](super::Loader) could not give a secret or a policy file. No message contains
/// a secret.
#[derive(Debug, thiserror::Error)]
pub enum LoaderError {
    /// A secret source that names none of `value`, `env` and `file`.
    #[error("give one of `value`, `env` or `file`")]
    NoSecretSource,
    /// The environment variable a secret is read from is not set, or not UTF-8.
    #[error("environment variable `{0}` is not set (or not UTF-8)")]
    EnvNotSet(String),
    /// A secret from an environment variable or a file, in a world not loaded from files.
    #[error("secrets from environment variables or files need a world loaded from files")]
    SecretSourceNeedsFiles,
    /// A secret file, in a world not loaded from files.
    #[error("secret file `{0}` needs a world loaded from files")]
    SecretFileNeedsFiles(String),
    /// A secret file that cannot be read.
    #[error("secret file `{}`", .path.display())]
    SecretFile {
        /// The file, resolved against the world's directory.
        path: std::path::PathBuf,
        /// Why it cannot be read (never what it holds).
        source: ReadError,
    },
    /// A policy file, in a world not loaded from files.
    #[error("policy file `{0}` needs a world loaded from files")]
    PolicyFileNeedsFiles(String),
    /// A policy file that cannot be read.
    #[error("policy file `{}`", .path.display())]
    PolicyFile {
        /// The file, resolved against the world's directory.
        path: std::path::PathBuf,
        /// Why it cannot be read.
        source: ReadError,
    },
}

/// Why the text of a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file system refused.
    #[error("cannot read")]
    Io(#[source] std::io::Error),
    /// The file is larger than the limit.
    #[error("file is {len} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// The file's size in bytes.
        len: u64,
        /// The largest size read.
        limit: u64,
    },
    /// More than the limit arrived while reading a file whose reported size was within it (it
    /// grew, or the file system does not report sizes).
    #[error("file is longer than the {limit}-byte limit")]
    TooLong {
        /// The largest size read.
        limit: u64,
    },
    /// The path holds something that is not a regular file; it was not read.
    #[error("file is a {0}, not a regular file")]
    NotRegular(FileKind),
    /// The file is not UTF-8 text.
    #[error("file is not UTF-8")]
    NotUtf8,
}

/// What a path holds when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A directory.
    Directory,
    /// A named pipe (FIFO): opening or reading it waits for a writer.
    NamedPipe,
    /// A character device (`/dev/zero`, a terminal): it may never end.
    CharacterDevice,
    /// A block device.
    BlockDevice,
    /// A Unix domain socket.
    Socket,
    /// Anything else the file system may hold.
    Special,
}

impl std::fmt::Display for FileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Directory => "directory",
            Self::NamedPipe => "named pipe",
            Self::CharacterDevice => "character device",
            Self::BlockDevice => "block device",
            Self::Socket => "socket",
            Self::Special => "special file",
        })
    }
}

/// `error` and each of its causes in one line, joined by `: ` (each error's `Display` says its
/// own layer only): a world problem's message, and what the command line prints.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

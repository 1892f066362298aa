//! Reading a world's files: the world file or directory, bounded in size and count, the files
//! its documents refer to (for change detection), and the [`Loader`] that gives the world
//! builder secrets from the environment or files, policy files, and compiled policies through
//! the store's cache.
//!
//! Every file is read by [`read_bounded`]: regular files only, opened without blocking, never
//! more than its limit read, so a named pipe or a device put in a file's place (or swapped in
//! between the checks) cannot stall or exhaust a load.
//!
//! It must not touch: the parsing or merging of documents, the snapshot.

use std::fs::{File, Metadata};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::lattice::spec::SecretSourceSpec;
use crate::lattice::{
    self, CompiledPolicy, FileKind, Loader, LoaderError, ReadError, World, error_chain,
};
use crate::policy::{Diagnostic, ParseOptions};

use super::error::LoadError;

/// Largest secret file read (a secret key or a session token is far smaller).
pub const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// Most files in a world directory.
pub const MAX_WORLD_FILES: usize = 10_000;

/// Hits and misses of the compiled-policy cache during one load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Policies reused.
    pub hits: u64,
    /// Policies compiled.
    pub misses: u64,
}

/// The documents of a world, read but not yet parsed.
#[derive(Debug)]
pub(super) struct Sources {
    /// `None`: the built-in world.
    pub(super) files: Vec<(Option<PathBuf>, String)>,
    pub(super) base: Option<PathBuf>,
    /// Referenced files (policy documents, secrets) read during the last build also count for
    /// change detection: the digest of each one's content (or of why it could not be read).
    pub(super) extra: Vec<(PathBuf, [u8; 32])>,
}

/// The text of the file at `path`, at most `limit` bytes long.
fn read_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    let bytes = read_bounded(path, limit)?;
    String::from_utf8(bytes).map_err(|_| ReadError::NotUtf8)
}

/// Why a world file could not be read, as its problem says it: a file past the bytes the
/// world had `left` names the world's limit and its setting.
pub(super) fn world_file_problem(error: &ReadError, max_bytes: u64, left: u64) -> String {
    match error {
        ReadError::TooLarge { len, .. } => format!(
            "the world is over its {max_bytes}-byte limit: this file is {len} bytes, with {left} left; `max_world_bytes` raises the limit"
        ),
        ReadError::TooLong { .. } => format!(
            "the world is over its {max_bytes}-byte limit: this file is longer than the {left} bytes left; `max_world_bytes` raises the limit"
        ),
        ReadError::Io(_) | ReadError::NotUtf8 | ReadError::NotRegular(_) => error_chain(error),
    }
}

/// The bytes of the regular file at `path` (a symlink is followed), at most `limit` of them.
///
/// The type and size are checked before opening, so a named pipe or a device is refused
/// without being opened and a large file without being read; they are checked again on the
/// opened file, and the open does not wait, so something swapped in between cannot block a
/// load either. The size reported is not trusted: the read stops one byte past `limit`.
fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    check_file(&std::fs::metadata(path).map_err(ReadError::Io)?, limit)?;
    let file = open_without_waiting(path).map_err(ReadError::Io)?;
    let len = check_file(&file.metadata().map_err(ReadError::Io)?, limit)?;
    read_at_most(file, len, limit)
}

/// The file's size, if it is a regular file within `limit`.
fn check_file(meta: &Metadata, limit: u64) -> Result<u64, ReadError> {
    if !meta.is_file() {
        return Err(ReadError::NotRegular(file_kind(meta)));
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge {
            len: meta.len(),
            limit,
        });
    }
    Ok(meta.len())
}

/// All of `reader`, refused once more than `limit` bytes arrive; `expected` is its size as
/// reported, to allocate once.
fn read_at_most(
    reader: impl std::io::Read,
    expected: u64,
    limit: u64,
) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::with_capacity(usize::try_from(expected.min(limit)).unwrap_or(0));
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        return Err(ReadError::TooLong { limit });
    }
    Ok(bytes)
}

/// Opens `path` for reading without waiting: a named pipe without a writer, or a device, opens
/// at once (a regular file reads the same either way), and a terminal does not become the
/// process's controlling terminal.
#[cfg(unix)]
fn open_without_waiting(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

#[cfg(not(unix))]
fn open_without_waiting(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

/// What a path that is not a regular file holds.
#[cfg(unix)]
fn file_kind(meta: &Metadata) -> FileKind {
    use std::os::unix::fs::FileTypeExt as _;
    let kind = meta.file_type();
    if kind.is_dir() {
        FileKind::Directory
    } else if kind.is_fifo() {
        FileKind::NamedPipe
    } else if kind.is_char_device() {
        FileKind::CharacterDevice
    } else if kind.is_block_device() {
        FileKind::BlockDevice
    } else if kind.is_socket() {
        FileKind::Socket
    } else {
        FileKind::Special
    }
}

#[cfg(not(unix))]
fn file_kind(meta: &Metadata) -> FileKind {
    if meta.is_dir() {
        FileKind::Directory
    } else {
        FileKind::Special
    }
}

/// Stands for a world that could not be read, in place of its content's fingerprint: the same
/// failure twice in a row is one failure. The tag keeps it apart from any content's.
pub(super) fn unreadable_fingerprint(error: &LoadError) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"\0unreadable\0");
    h.update(error.to_string().as_bytes());
    h.finalize().into()
}

/// The world's files (the file itself, or the `.yaml`, `.yml` and `.json` files of the
/// directory, sorted) and the directory referenced files are relative to.
pub(super) fn world_files(path: &Path) -> Result<(Vec<PathBuf>, PathBuf), LoadError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| LoadError::one(Some(path), format!("cannot read the world: {e}")))?;
    if !meta.is_dir() {
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        return Ok((vec![path.to_path_buf()], base));
    }
    let mut names = Vec::new();
    let entries = std::fs::read_dir(path)
        .map_err(|e| LoadError::one(Some(path), format!("cannot list: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| LoadError::one(Some(path), format!("cannot list: {e}")))?;
        let p = entry.path();
        let is_world = p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
        // Kubernetes ConfigMap volumes keep data behind `..data` symlinks: skip dot-files.
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if is_world && !hidden && p.is_file() {
            names.push(p);
        }
        if names.len() > MAX_WORLD_FILES {
            return Err(LoadError::one(
                Some(path),
                format!("more than {MAX_WORLD_FILES} world files"),
            ));
        }
    }
    names.sort();
    if names.is_empty() {
        return Err(LoadError::one(
            Some(path),
            "the directory has no .yaml, .yml or .json files".to_owned(),
        ));
    }
    Ok((names, path.to_path_buf()))
}

/// Reads the world's files, at most `max_bytes` of them in all, and digests the files they
/// refer to (each at most `max_bytes`).
pub(super) fn read_sources(world: Option<&Path>, max_bytes: u64) -> Result<Sources, LoadError> {
    let Some(path) = world else {
        return Ok(Sources {
            files: vec![(None, World::EXAMPLE_YAML.to_owned())],
            base: None,
            extra: Vec::new(),
        });
    };
    let (files, base) = world_files(path)?;
    let mut out = Vec::new();
    let mut left = max_bytes;
    for f in files {
        let text = read_text(&f, left)
            .map_err(|e| LoadError::one(Some(&f), world_file_problem(&e, max_bytes, left)))?;
        left = left.saturating_sub(u64::try_from(text.len()).unwrap_or(u64::MAX));
        out.push((Some(f), text));
    }
    // Referenced files: re-read them so that editing a policy file triggers a reload. One that
    // cannot be read is reported by the build; here it only counts by its reason.
    let mut extra = Vec::new();
    for (_, text) in &out {
        for referenced in referenced_files(text) {
            let p = base.join(&referenced);
            let digest = match read_bounded(&p, max_bytes) {
                Ok(bytes) => Sha256::digest(&bytes),
                Err(e) => Sha256::digest(format!("\0unreadable\0{}", error_chain(&e))),
            };
            extra.push((p, digest.into()));
        }
    }
    Ok(Sources {
        files: out,
        base: Some(base),
        extra,
    })
}

/// File names a world document refers to (`documentFile:`, `file:`, in block or inline
/// mappings), found textually: only used for change detection; the real references are resolved
/// while building.
fn referenced_files(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut rest = line;
        while let Some(at) = rest.find("ile") {
            let before = rest.get(..at).unwrap_or_default();
            let after = rest.get(at + 3..).unwrap_or_default();
            rest = after;
            let key_ok = before.ends_with("documentF")
                || (before.ends_with('f')
                    && !before
                        .trim_end_matches(['f'])
                        .ends_with(|c: char| c.is_alphanumeric()));
            let Some(value) = after.trim_start_matches(['"', '\'']).strip_prefix(':') else {
                continue;
            };
            if !key_ok {
                continue;
            }
            let value = value.trim_start();
            let end = value.find([',', '}', '#']).unwrap_or(value.len());
            let name = value
                .get(..end)
                .unwrap_or_default()
                .trim()
                .trim_matches(['"', '\'']);
            if !name.is_empty() {
                out.push(name.to_owned());
            }
        }
    }
    out
}

impl Sources {
    pub(super) fn fingerprint(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for (path, text) in &self.files {
            h.update(
                path.as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
                    .as_bytes(),
            );
            h.update([0]);
            h.update(text.as_bytes());
            h.update([0]);
        }
        for (path, digest) in &self.extra {
            h.update(path.display().to_string().as_bytes());
            h.update([0]);
            h.update(digest);
        }
        h.finalize().into()
    }

    pub(super) fn describe(&self) -> String {
        match &self.files[..] {
            [(None, _)] => "built-in example world".to_owned(),
            [(Some(p), _)] => p.display().to_string(),
            _ => self
                .base
                .as_ref()
                .map(|b| b.display().to_string())
                .unwrap_or_default(),
        }
    }
}

/// Resolves secrets and policy files relative to the world, and compiles through the cache.
pub(super) struct FileLoader<'a> {
    pub(super) base: Option<PathBuf>,
    /// The most a policy file may hold: the world's limit.
    pub(super) max_file_bytes: u64,
    pub(super) cache: &'a moka::sync::Cache<[u8; 32], CompiledPolicy>,
    pub(super) stats: Mutex<CacheStats>,
}

impl FileLoader<'_> {
    fn path(&self, name: &str) -> PathBuf {
        match &self.base {
            Some(base) => base.join(name),
            None => PathBuf::from(name),
        }
    }
}

impl Loader for FileLoader<'_> {
    fn secret(&self, source: &SecretSourceSpec) -> Result<String, LoaderError> {
        match source {
            SecretSourceSpec { value: Some(v), .. } => Ok(v.clone()),
            SecretSourceSpec { env: Some(var), .. } => {
                std::env::var(var).map_err(|_| LoaderError::EnvNotSet(var.clone()))
            }
            SecretSourceSpec {
                file: Some(name), ..
            } => {
                if self.base.is_none() {
                    return Err(LoaderError::SecretFileNeedsFiles(name.clone()));
                }
                let path = self.path(name);
                let text = read_bounded(&path, MAX_SECRET_FILE_BYTES)
                    .and_then(|bytes| String::from_utf8(bytes).map_err(|_| ReadError::NotUtf8));
                match text {
                    Ok(text) => Ok(text.trim_end_matches(['\n', '\r']).to_owned()),
                    Err(source) => Err(LoaderError::SecretFile { path, source }),
                }
            }
            SecretSourceSpec {
                value: None,
                env: None,
                file: None,
            } => Err(LoaderError::NoSecretSource),
        }
    }

    fn document_file(&self, name: &str) -> Result<String, LoaderError> {
        if self.base.is_none() {
            return Err(LoaderError::PolicyFileNeedsFiles(name.to_owned()));
        }
        let path = self.path(name);
        match read_text(&path, self.max_file_bytes) {
            Ok(text) => Ok(text),
            Err(source) => Err(LoaderError::PolicyFile { path, source }),
        }
    }

    fn compile(
        &self,
        text: &str,
        options: &ParseOptions,
    ) -> Result<CompiledPolicy, Vec<Diagnostic>> {
        let mut h = Sha256::new();
        h.update(format!("{options:?}").as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        let key: [u8; 32] = h.finalize().into();
        if let Some(hit) = self.cache.get(&key) {
            if let Ok(mut s) = self.stats.lock() {
                s.hits += 1;
            }
            return Ok(hit);
        }
        let compiled = lattice::compile_policy(text, options)?;
        if let Ok(mut s) = self.stats.lock() {
            s.misses += 1;
        }
        self.cache.insert(key, compiled.clone());
        Ok(compiled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The messages the builder shows for the loader's errors, with their causes.
    #[test]
    fn loader_errors_read_as_one_line_each() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("latin1.json"), b"{\"a\": \"\xe9\"}").unwrap();
        let cache = moka::sync::Cache::new(1);
        let loader = FileLoader {
            base: Some(dir.path().to_path_buf()),
            max_file_bytes: 1024,
            cache: &cache,
            stats: Mutex::new(CacheStats::default()),
        };
        let at = |name: &str| dir.path().join(name).display().to_string();
        // What the file system says of a file that does not exist, as the loader quotes it.
        let missing = std::fs::metadata(dir.path().join("none")).unwrap_err();
        let message = |result: Result<String, LoaderError>| error_chain(&result.unwrap_err());

        let error = loader.document_file("latin1.json").unwrap_err();
        assert!(matches!(
            error,
            LoaderError::PolicyFile {
                source: ReadError::NotUtf8,
                ..
            }
        ));
        assert_eq!(
            error_chain(&error),
            format!("policy file `{}`: file is not UTF-8", at("latin1.json"))
        );
        let error = loader.document_file("none.json").unwrap_err();
        assert!(matches!(
            &error,
            LoaderError::PolicyFile {
                source: ReadError::Io(e),
                ..
            } if e.kind() == std::io::ErrorKind::NotFound
        ));
        assert_eq!(
            error_chain(&error),
            format!("policy file `{}`: cannot read: {missing}", at("none.json"))
        );
        std::fs::create_dir(dir.path().join("policies")).unwrap();
        let error = loader.document_file("policies").unwrap_err();
        assert!(matches!(
            error,
            LoaderError::PolicyFile {
                source: ReadError::NotRegular(FileKind::Directory),
                ..
            }
        ));
        assert_eq!(
            error_chain(&error),
            format!(
                "policy file `{}`: file is a directory, not a regular file",
                at("policies")
            )
        );
        let source =
            |value: Option<&str>, env: Option<&str>, file: Option<&str>| SecretSourceSpec {
                value: value.map(str::to_owned),
                env: env.map(str::to_owned),
                file: file.map(str::to_owned),
            };
        assert_eq!(
            message(loader.secret(&source(None, None, Some("none")))),
            format!("secret file `{}`: cannot read: {missing}", at("none"))
        );
        assert_eq!(
            message(loader.secret(&source(None, Some("LATTICE_AUTHZ_TEST_NEVER_SET"), None))),
            "environment variable `LATTICE_AUTHZ_TEST_NEVER_SET` is not set (or not UTF-8)"
        );
        assert_eq!(
            message(loader.secret(&source(None, None, None))),
            "give one of `value`, `env` or `file`"
        );
        assert_eq!(loader.secret(&source(Some("v"), None, None)).unwrap(), "v");

        let text_only = FileLoader {
            base: None,
            ..loader
        };
        assert_eq!(
            message(text_only.document_file("p.json")),
            "policy file `p.json` needs a world loaded from files"
        );
        assert_eq!(
            message(text_only.secret(&source(None, None, Some("k")))),
            "secret file `k` needs a world loaded from files"
        );
        assert_eq!(
            ReadError::TooLarge { len: 5, limit: 4 }.to_string(),
            "file is 5 bytes, over the 4-byte limit"
        );
        assert_eq!(
            ReadError::TooLong { limit: 4 }.to_string(),
            "file is longer than the 4-byte limit"
        );
    }

    /// A source that never ends (what `/dev/zero` is, or a file that grows while it is read)
    /// stops one byte past the limit, whatever size it reported.
    #[test]
    fn reads_stop_one_byte_past_the_limit() {
        let error = read_at_most(std::io::repeat(b'z'), 0, 16).unwrap_err();
        assert!(
            matches!(error, ReadError::TooLong { limit: 16 }),
            "{error:?}"
        );
        let error = read_at_most(std::io::repeat(b'z'), 16, 16).unwrap_err();
        assert!(
            matches!(error, ReadError::TooLong { limit: 16 }),
            "{error:?}"
        );
        assert_eq!(
            read_at_most(&b"sixteen bytes..."[..], 0, 16).unwrap().len(),
            16
        );
        assert_eq!(read_at_most(&b""[..], 0, 16).unwrap(), b"");
    }

    #[test]
    fn finds_referenced_files() {
        let text = "authPolicy:\n  documentFile: policies/nginx.json\nsecretAccessKey: {file: secrets/k}\n";
        assert_eq!(
            referenced_files(text),
            vec!["policies/nginx.json", "secrets/k"]
        );
    }
}

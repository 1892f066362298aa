//! Loading the world: files and directories of YAML/JSON documents, secrets from environment
//! variables and files, the AWS Gateway API Controller's `IAMAuthPolicy` resources; compiling a
//! complete [`Snapshot`]; publishing it atomically; keeping the last good one when a change is
//! invalid.
//!
//! Compiled policies are cached by content hash, so a reload recompiles only what changed.
//! Everything here is synchronous: `app` runs [`Store::poll`] on a blocking thread.
//!
//! It must not touch: request handling.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use arc_swap::ArcSwapOption;
use sha2::{Digest, Sha256};

use crate::config::{PayloadMode, Settings};
use crate::lattice::spec::{DocumentSpec, SecretSourceSpec, WorldSpec};
use crate::lattice::{self, CompiledPolicy, Loader, Problem, World, WorldOptions};
use crate::policy::{Diagnostic, ParseOptions, Severity};
use crate::sigv4::{self, Verifier};

/// Largest world file read (a world is configuration, not data).
pub const MAX_WORLD_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Most files in a world directory.
pub const MAX_WORLD_FILES: usize = 10_000;

/// One immutable, complete, validated world, ready to serve.
#[derive(Debug)]
pub struct Snapshot {
    /// The compiled world.
    pub world: World,
    /// The signature verifier for this world's region (its key caches survive reloads).
    pub verifier: Arc<Verifier>,
    /// Increases by one with every successful load.
    pub generation: u64,
    /// When it was built.
    pub loaded_at: SystemTime,
    /// Where it came from (`built-in example world` or the path).
    pub source: String,
}

/// A problem, with the file it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    /// The file, when the world comes from files.
    pub file: Option<String>,
    /// The problem, its pointer relative to that file's document.
    pub problem: Problem,
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{file}: {}", self.problem),
            None => self.problem.fmt(f),
        }
    }
}

/// A world that could not be loaded: every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("world not loaded: {} error(s); first: {}", self.errors().count(), self.errors().next().map(ToString::to_string).unwrap_or_default())]
pub struct LoadError {
    /// Every problem (errors and warnings).
    pub problems: Vec<FileProblem>,
}

impl LoadError {
    fn one(file: Option<&Path>, message: String) -> Self {
        LoadError {
            problems: vec![FileProblem {
                file: file.map(|f| f.display().to_string()),
                problem: Problem {
                    severity: Severity::Error,
                    pointer: String::new(),
                    message,
                    hint: None,
                },
            }],
        }
    }

    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &FileProblem> {
        self.problems
            .iter()
            .filter(|p| p.problem.severity == Severity::Error)
    }
}

/// What a poll did.
#[derive(Debug)]
pub enum Reload {
    /// Nothing changed on disk.
    Unchanged,
    /// A new snapshot is live.
    Loaded(Arc<Snapshot>, Vec<FileProblem>),
    /// The change is invalid; the previous snapshot keeps serving.
    Failed(LoadError),
}

/// Hits and misses of the compiled-policy cache during one load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Policies reused.
    pub hits: u64,
    /// Policies compiled.
    pub misses: u64,
}

/// The YAML parser's resource budget. A world file is at most [`MAX_WORLD_FILE_BYTES`]; a node
/// or event takes at least two bytes of it, so these caps never refuse a file that fits, while
/// the parser's own caps on aliases and anchor copies (left at their defaults) stop inputs that
/// amplify. The parser's default of 250,000 nodes refused worlds of 30,000 principals.
fn yaml_options() -> serde_saphyr::Options {
    let size = usize::try_from(MAX_WORLD_FILE_BYTES).unwrap_or(usize::MAX);
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: size / 2,
            max_events: size,
        },
    }
}

/// One document of a world file.
#[derive(Debug)]
enum Document<'t> {
    /// The text of one JSON document, already checked to be JSON without repeated keys: it is
    /// parsed straight into its type. (A tree of the 25.7 MiB scale world took 186 MiB.)
    Json(&'t str),
    /// The tree the YAML parser gives.
    Tree(serde_json::Value),
}

/// `kind` and `apiVersion` of a document, and nothing else.
#[derive(serde::Deserialize)]
struct Head {
    kind: Option<serde_json::Value>,
    #[serde(rename = "apiVersion")]
    api_version: Option<serde_json::Value>,
}

impl Document<'_> {
    fn is_null(&self) -> bool {
        match self {
            Self::Json(text) => text.trim() == "null",
            Self::Tree(value) => value.is_null(),
        }
    }

    /// `kind` and `apiVersion` (empty when absent or not text) of an object whose `kind` is
    /// text.
    fn kind(&self) -> Option<(String, String)> {
        let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
        let (kind, api) = match self {
            Self::Json(json) => {
                // Objects only: a derived `Deserialize` would read an array as the fields too.
                if !json.trim_start().starts_with('{') {
                    return None;
                }
                let head = serde_json::from_str::<Head>(json).ok()?;
                (text(head.kind.as_ref()), text(head.api_version.as_ref()))
            }
            Self::Tree(value) => (text(value.get("kind")), text(value.get("apiVersion"))),
        };
        Some((kind?, api.unwrap_or_default()))
    }

    /// The document as a `T`.
    fn parse<T: serde::de::DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        match self {
            Self::Json(text) => serde_json::from_str(text),
            Self::Tree(value) => serde_json::from_value(value),
        }
    }
}

/// Every document of a world file (YAML, or JSON, which is YAML).
///
/// Text that is a stream of JSON values is read by the JSON parser, about ten times faster on
/// large generated worlds, one document at a time and straight into its types; anything else,
/// including JSON the JSON parser refuses, by the YAML parser, whose errors are the ones
/// reported.
fn read_documents(text: &str) -> Result<Vec<Document<'_>>, serde_saphyr::Error> {
    if let Some(docs) = json_documents(text) {
        return Ok(docs.into_iter().map(Document::Json).collect());
    }
    serde_saphyr::from_multiple_with_options::<serde_json::Value>(text, yaml_options())
        .map(|docs| docs.into_iter().map(Document::Tree).collect())
}

/// The texts of the JSON values `text` is a stream of, if it is one and no object in it
/// repeats a key. `serde_json::Value` keeps the last of repeated keys; the YAML parser refuses
/// them. Refusing here sends such a file to the YAML parser, so a world means the same, and
/// fails with the same error, in either syntax.
fn json_documents(text: &str) -> Option<Vec<&str>> {
    if !text.trim_start().starts_with(['{', '[']) {
        return None;
    }
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<KeysChecked>();
    let mut docs = Vec::new();
    let mut start = 0;
    while let Some(doc) = stream.next() {
        doc.ok()?;
        let end = stream.byte_offset();
        docs.push(text.get(start..end)?);
        start = end;
    }
    Some(docs)
}

/// A JSON value read only to check that no object in it repeats a key: it keeps nothing.
struct KeysChecked;

impl<'de> serde::Deserialize<'de> for KeysChecked {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KeysCheckedVisitor)
    }
}

struct KeysCheckedVisitor;

impl<'de> serde::de::Visitor<'de> for KeysCheckedVisitor {
    type Value = KeysChecked;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(KeysChecked)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(KeysChecked)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(KeysChecked)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(KeysChecked)
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v.is_finite() {
            Ok(KeysChecked)
        } else {
            Err(E::custom("a number that is not finite"))
        }
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(KeysChecked)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<KeysChecked>()?.is_some() {}
        Ok(KeysChecked)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut keys = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<KeysChecked>()?;
            if !keys.insert(key) {
                return Err(serde::de::Error::custom("duplicate key"));
            }
        }
        Ok(KeysChecked)
    }
}

/// Holds the live snapshot and everything needed to build the next one.
#[derive(Debug)]
pub struct Store {
    settings: Settings,
    current: ArcSwapOption<Snapshot>,
    generation: AtomicU64,
    policies: moka::sync::Cache<[u8; 32], CompiledPolicy>,
    verifier: Mutex<Option<(Arc<str>, Arc<Verifier>)>>,
    last_fingerprint: Mutex<Option<[u8; 32]>>,
    /// What the last read of the world's files left to compare the next poll with.
    last_read: Mutex<LastRead>,
    /// How many polls read the world's files.
    source_reads: AtomicU64,
    last_cache: Mutex<CacheStats>,
}

impl Store {
    /// A store with no snapshot yet.
    pub fn new(settings: Settings) -> Self {
        Self {
            policies: moka::sync::Cache::new(settings.policy_cache_capacity),
            settings,
            current: ArcSwapOption::empty(),
            generation: AtomicU64::new(0),
            verifier: Mutex::new(None),
            last_fingerprint: Mutex::new(None),
            last_read: Mutex::new(LastRead::default()),
            source_reads: AtomicU64::new(0),
            last_cache: Mutex::new(CacheStats::default()),
        }
    }

    /// The snapshot being served, if one has loaded.
    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.current.load_full()
    }

    /// The settings the store builds with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Policy cache results of the last load.
    pub fn last_cache_stats(&self) -> CacheStats {
        self.last_cache.lock().map(|s| *s).unwrap_or_default()
    }

    /// How many polls have read the world's files (the others found them unchanged from their
    /// metadata alone).
    pub fn source_reads(&self) -> u64 {
        self.source_reads.load(Ordering::Relaxed)
    }

    /// Loads (or reloads) the world if its files changed. The first call always loads.
    ///
    /// Files are read only when their metadata changed (size, modification and status-change
    /// times, inode) or is too recent to tell: a 25 MiB world is then not read and hashed every
    /// second while it sits unchanged. File times are compared with `now`, so a `now` that is
    /// not the wall clock (a fixed test time in the past) only means every poll reads.
    pub fn poll(&self, now: SystemTime) -> Reload {
        let sources = {
            let mut last = self
                .last_read
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // Taken before the read: a change made during it shows at the next poll.
            let stamp = self
                .settings
                .world
                .as_deref()
                .and_then(|world| Stamp::take(world, &last.referenced, now));
            if stamp.is_some() && stamp == last.stamp {
                return Reload::Unchanged;
            }
            self.source_reads.fetch_add(1, Ordering::Relaxed);
            let sources = read_sources(self.settings.world.as_deref());
            last.stamp = stamp;
            last.referenced = sources.as_ref().map_or_else(
                |_| Vec::new(),
                |s| s.extra.iter().map(|(p, _)| p.clone()).collect(),
            );
            sources
        };
        let fingerprint = match &sources {
            Ok(sources) => sources.fingerprint(),
            Err(e) => unreadable_fingerprint(e),
        };
        // The same inputs give the same result: an invalid world (or one that cannot be read:
        // deleted, unreadable) is reported once, not at every poll, and is retried when its
        // files change.
        let unchanged = self
            .last_fingerprint
            .lock()
            .map(|f| *f == Some(fingerprint))
            .unwrap_or(false);
        if unchanged {
            return Reload::Unchanged;
        }
        let result = sources.and_then(|sources| self.build(&sources, now));
        if let Ok(mut f) = self.last_fingerprint.lock() {
            *f = Some(fingerprint);
        }
        match result {
            Ok((snapshot, warnings)) => {
                self.current.store(Some(snapshot.clone()));
                Reload::Loaded(snapshot, warnings)
            }
            Err(e) => self.fail(e),
        }
    }

    fn fail(&self, e: LoadError) -> Reload {
        Reload::Failed(e)
    }

    /// Builds a snapshot from the configured source without publishing it (for `validate`).
    pub fn build_once(
        &self,
        now: SystemTime,
    ) -> Result<(Arc<Snapshot>, Vec<FileProblem>), LoadError> {
        let sources = read_sources(self.settings.world.as_deref())?;
        self.build(&sources, now)
    }

    fn world_options(&self) -> WorldOptions {
        WorldOptions {
            max_policy_bytes: self.settings.max_policy_bytes,
            bare_account_principal: self.settings.bare_account_principal,
            aws_wildcard_matches_anonymous: self.settings.aws_wildcard_matches_anonymous,
            anonymous_identity_header: self.settings.anonymous_identity_header,
        }
    }

    fn verifier_for(&self, region: &Arc<str>) -> Arc<Verifier> {
        let mut slot = match self.verifier.lock() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((r, v)) = slot.as_ref()
            && r == region
        {
            return v.clone();
        }
        let mut s = sigv4::Settings::lattice(region);
        s.max_skew = self.settings.max_skew;
        s.query_auth = self.settings.query_auth;
        s.single_encoding_fallback = self.settings.single_encoding_fallback;
        s.key_cache_capacity = self.settings.key_cache_capacity;
        s.payload = match self.settings.payload_mode {
            PayloadMode::Lattice => sigv4::PayloadMode::Lattice,
            PayloadMode::Standard => sigv4::PayloadMode::Standard,
        };
        let v = Arc::new(Verifier::new(s));
        *slot = Some((region.clone(), v.clone()));
        v
    }

    fn build(
        &self,
        sources: &Sources,
        now: SystemTime,
    ) -> Result<(Arc<Snapshot>, Vec<FileProblem>), LoadError> {
        let (spec, origins) = sources.merge()?;
        let loader = FileLoader {
            base: sources.base.clone(),
            cache: &self.policies,
            stats: Mutex::new(CacheStats::default()),
        };
        let world =
            World::build(&spec, &self.world_options(), &loader).map_err(|problems| LoadError {
                problems: problems.into_iter().map(|p| origins.locate(p)).collect(),
            })?;
        if let (Ok(mut last), Ok(stats)) = (self.last_cache.lock(), loader.stats.lock()) {
            *last = *stats;
        }
        let warnings = world
            .warnings
            .iter()
            .cloned()
            .map(|p| origins.locate(p))
            .collect();
        let verifier = self.verifier_for(&world.region);
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let snapshot = Arc::new(Snapshot {
            world,
            verifier,
            generation,
            loaded_at: now,
            source: sources.describe(),
        });
        Ok((snapshot, warnings))
    }

    /// Builds a snapshot from the text of one world file (YAML or JSON, one or more
    /// documents) without publishing it: the same parsing, merging, validation and compilation
    /// as a load from disk, for worlds that are not in a file (tests, fuzzing, text piped to a
    /// tool). `name` stands for the file in problems and in the snapshot's source. With no
    /// directory to resolve them against, `documentFile` and secret `file` references are
    /// errors.
    pub fn build_from_text(
        &self,
        name: &str,
        text: &str,
        now: SystemTime,
    ) -> Result<(Arc<Snapshot>, Vec<FileProblem>), LoadError> {
        let path = PathBuf::from(name);
        if u64::try_from(text.len()).unwrap_or(u64::MAX) > MAX_WORLD_FILE_BYTES {
            return Err(LoadError::one(
                Some(&path),
                format!(
                    "file is {} bytes, over the {MAX_WORLD_FILE_BYTES}-byte limit",
                    text.len()
                ),
            ));
        }
        let sources = Sources {
            files: vec![(Some(path), text.to_owned())],
            base: None,
            extra: Vec::new(),
        };
        self.build(&sources, now)
    }
}

// === loading files ===

/// The documents of a world, read but not yet parsed.
#[derive(Debug)]
struct Sources {
    /// `None`: the built-in world.
    files: Vec<(Option<PathBuf>, String)>,
    base: Option<PathBuf>,
    /// Referenced files (policy documents, secrets) read during the last build also count for
    /// change detection; their contents are hashed here.
    extra: Vec<(PathBuf, Vec<u8>)>,
}

fn read_limited(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if meta.len() > MAX_WORLD_FILE_BYTES {
        return Err(format!(
            "file is {} bytes, over the {MAX_WORLD_FILE_BYTES}-byte limit",
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    String::from_utf8(bytes).map_err(|_| "file is not UTF-8".to_owned())
}

/// Stands for a world that could not be read, in place of its content's fingerprint: the same
/// failure twice in a row is one failure. The tag keeps it apart from any content's.
fn unreadable_fingerprint(error: &LoadError) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"\0unreadable\0");
    h.update(error.to_string().as_bytes());
    h.finalize().into()
}

/// The world's files (the file itself, or the `.yaml`, `.yml` and `.json` files of the
/// directory, sorted) and the directory referenced files are relative to.
fn world_files(path: &Path) -> Result<(Vec<PathBuf>, PathBuf), LoadError> {
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

/// What the last read of the world's files left for the next poll.
#[derive(Debug, Default)]
struct LastRead {
    /// The files' stamp taken before that read, when it could be trusted.
    stamp: Option<Stamp>,
    /// The files the world referenced then (policy documents, secrets).
    referenced: Vec<PathBuf>,
}

/// What the file system says about a world's files (the directory too, for a directory world,
/// and the files it references), taken before reading them: equal stamps mean unchanged files.
/// A stamp is only taken when every time in it is already [`SETTLE`] in the past: a file
/// written within the same clock tick as it was stamped, or on a file system with coarse
/// timestamps, could change again without changing its stamp (git's "racy clean" problem), so
/// such files are read again instead.
#[derive(Debug, PartialEq, Eq)]
struct Stamp(Vec<(PathBuf, Option<FileStamp>)>);

/// How old a file's times must be before its stamp is trusted to change with its content.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(2);

/// One file's metadata: what any write, replacement or rename changes.
#[derive(Debug, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    /// The status-change time, which no user can set back (the modification time on systems
    /// without one).
    changed: Option<SystemTime>,
    /// Device and inode, on Unix.
    inode: (u64, u64),
}

impl Stamp {
    /// Stamps `world` and the `referenced` files; `None` when something cannot be stat'ed (the
    /// read that follows reports it) or has changed within [`SETTLE`] of `wall_now`. A
    /// referenced file that does not exist is stamped as such.
    fn take(world: &Path, referenced: &[PathBuf], wall_now: SystemTime) -> Option<Self> {
        let (mut paths, _) = world_files(world).ok()?;
        if paths.first().is_none_or(|p| p != world) {
            paths.push(world.to_path_buf());
        }
        paths.extend_from_slice(referenced);
        let horizon = wall_now.checked_sub(SETTLE)?;
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let stamp = match std::fs::metadata(&path) {
                Ok(meta) => {
                    let stamp = FileStamp::of(&meta);
                    let settled = |t: Option<SystemTime>| t.is_some_and(|t| t < horizon);
                    if !settled(stamp.modified) || !settled(stamp.changed) {
                        return None;
                    }
                    Some(stamp)
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(_) => return None,
            };
            files.push((path, stamp));
        }
        Some(Self(files))
    }
}

impl FileStamp {
    #[cfg(unix)]
    fn of(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt as _;
        let changed = u64::try_from(meta.ctime())
            .ok()
            .zip(u32::try_from(meta.ctime_nsec()).ok())
            .and_then(|(s, n)| SystemTime::UNIX_EPOCH.checked_add(std::time::Duration::new(s, n)));
        Self {
            len: meta.len(),
            modified: meta.modified().ok(),
            changed,
            inode: (meta.dev(), meta.ino()),
        }
    }

    #[cfg(not(unix))]
    fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            len: meta.len(),
            modified: meta.modified().ok(),
            changed: meta.modified().ok(),
            inode: (0, 0),
        }
    }
}

fn read_sources(world: Option<&Path>) -> Result<Sources, LoadError> {
    let Some(path) = world else {
        return Ok(Sources {
            files: vec![(None, World::EXAMPLE_YAML.to_owned())],
            base: None,
            extra: Vec::new(),
        });
    };
    let (files, base) = world_files(path)?;
    let mut out = Vec::new();
    for f in files {
        let text = read_limited(&f).map_err(|m| LoadError::one(Some(&f), m))?;
        out.push((Some(f), text));
    }
    // Referenced files: re-read them so that editing a policy file triggers a reload.
    let mut extra = Vec::new();
    for (_, text) in &out {
        for referenced in referenced_files(text) {
            let p = base.join(&referenced);
            extra.push((p.clone(), std::fs::read(&p).unwrap_or_default()));
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

/// Where each list item of the merged world came from, to point problems at files.
#[derive(Debug, Default)]
struct Origins {
    /// (collection, merged index) → (file, document index, index within the document).
    items: BTreeMap<(String, usize), (Option<String>, usize, usize)>,
    /// Pointer prefixes replaced wholesale (policies applied from `IAMAuthPolicy` resources).
    overrides: Vec<(String, Option<String>, String)>,
    multi_document: bool,
}

impl Origins {
    fn locate(&self, problem: Problem) -> FileProblem {
        for (prefix, file, replacement) in &self.overrides {
            if let Some(rest) = problem.pointer.strip_prefix(prefix.as_str()) {
                let pointer = format!("{replacement}{rest}");
                return FileProblem {
                    file: file.clone(),
                    problem: Problem { pointer, ..problem },
                };
            }
        }
        let mut parts = problem.pointer.splitn(4, '/');
        let (_, collection, index, rest) = (parts.next(), parts.next(), parts.next(), parts.next());
        if let (Some(collection), Some(index)) =
            (collection, index.and_then(|i| i.parse::<usize>().ok()))
            && let Some((file, doc, local)) = self.items.get(&(collection.to_owned(), index))
        {
            let doc = if self.multi_document {
                format!("[document {doc}] ")
            } else {
                String::new()
            };
            let rest = rest.map(|r| format!("/{r}")).unwrap_or_default();
            let pointer = format!("{doc}/{collection}/{local}{rest}");
            return FileProblem {
                file: file.clone(),
                problem: Problem { pointer, ..problem },
            };
        }
        let file = self.items.values().next().and_then(|(f, _, _)| f.clone());
        FileProblem { file, problem }
    }
}

/// A Kubernetes `IAMAuthPolicy` (lattice-auth §9).
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct IamAuthPolicy {
    metadata: K8sMetadata,
    spec: IamAuthPolicySpec,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct K8sMetadata {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    creation_timestamp: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IamAuthPolicySpec {
    policy: String,
    target_ref: TargetRef,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TargetRef {
    #[serde(default)]
    group: Option<String>,
    kind: String,
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

const IAM_AUTH_POLICY_API: &str = "application-networking.k8s.aws/v1alpha1";

/// The Lattice service name the controller gives a route: `<route[..20]>-<namespace[..18]>`.
fn controller_service_name(route: &str, namespace: &str) -> String {
    let cut = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    format!("{}-{}", cut(route, 20), cut(namespace, 18))
}

type Applied = (IamAuthPolicy, Option<String>, usize);

impl Sources {
    fn fingerprint(&self) -> [u8; 32] {
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
        for (path, bytes) in &self.extra {
            h.update(path.display().to_string().as_bytes());
            h.update([0]);
            h.update(bytes);
        }
        h.finalize().into()
    }

    fn describe(&self) -> String {
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

    fn merge(&self) -> Result<(WorldSpec, Origins), LoadError> {
        let mut merged = WorldSpec::default();
        let mut origins = Origins::default();
        let mut problems = Vec::new();
        let mut policies: Vec<Applied> = Vec::new();
        let error = |file: &Option<String>, pointer: String, message: String| FileProblem {
            file: file.clone(),
            problem: Problem {
                severity: Severity::Error,
                pointer,
                message,
                hint: None,
            },
        };
        for (path, text) in &self.files {
            let file = path.as_ref().map(|p| p.display().to_string());
            let docs = match read_documents(text) {
                Ok(docs) => docs,
                Err(e) => {
                    problems.push(error(
                        &file,
                        String::new(),
                        format!("not valid YAML/JSON: {e}"),
                    ));
                    continue;
                }
            };
            origins.multi_document |= docs.len() > 1;
            for (d, doc) in docs.into_iter().enumerate() {
                if doc.is_null() {
                    continue;
                }
                if let Some((kind, api)) = doc.kind() {
                    if kind == "IAMAuthPolicy" && api == IAM_AUTH_POLICY_API {
                        match doc.parse::<IamAuthPolicy>() {
                            Ok(p) => policies.push((p, file.clone(), d)),
                            Err(e) => problems.push(error(
                                &file,
                                format!("[document {d}]"),
                                format!("IAMAuthPolicy: {e}"),
                            )),
                        }
                    } else {
                        problems.push(error(
                            &file,
                            format!("[document {d}]"),
                            format!("unsupported resource `{api}` `{kind}` (only {IAM_AUTH_POLICY_API} IAMAuthPolicy)"),
                        ));
                    }
                    continue;
                }
                let part: WorldSpec = match doc.parse() {
                    Ok(part) => part,
                    Err(e) => {
                        problems.push(error(&file, format!("[document {d}]"), e.to_string()));
                        continue;
                    }
                };
                if let Err(message) = merge_part(&mut merged, part, &file, d, &mut origins) {
                    problems.push(error(&file, format!("[document {d}]"), message));
                }
            }
        }
        self.apply_policies(&mut merged, policies, &mut origins, &mut problems);
        if problems
            .iter()
            .any(|p| p.problem.severity == Severity::Error)
        {
            return Err(LoadError { problems });
        }
        Ok((merged, origins))
    }

    /// Applies `IAMAuthPolicy` resources the way the controller does: the policy on the target,
    /// then its auth type `AWS_IAM`. One policy per target; the oldest wins (then
    /// namespace/name), the others are reported as conflicted.
    fn apply_policies(
        &self,
        world: &mut WorldSpec,
        mut policies: Vec<Applied>,
        origins: &mut Origins,
        problems: &mut Vec<FileProblem>,
    ) {
        policies.sort_by(|(a, ..), (b, ..)| {
            let key = |p: &IamAuthPolicy| {
                (
                    p.metadata.creation_timestamp.clone().unwrap_or_default(),
                    p.metadata
                        .namespace
                        .clone()
                        .unwrap_or_else(|| "default".into()),
                    p.metadata.name.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        let mut taken: Vec<(String, String)> = Vec::new();
        for (p, file, d) in policies {
            let namespace = p
                .spec
                .target_ref
                .namespace
                .clone()
                .or(p.metadata.namespace.clone())
                .unwrap_or_else(|| "default".into());
            let group_ok = p
                .spec
                .target_ref
                .group
                .as_deref()
                .is_none_or(|g| g == "gateway.networking.k8s.io");
            let name = format!(
                "{}/{}",
                p.metadata.namespace.as_deref().unwrap_or("default"),
                p.metadata.name
            );
            let (collection, target) = match p.spec.target_ref.kind.as_str() {
                "Gateway" if group_ok => ("serviceNetworks", p.spec.target_ref.name.clone()),
                "HTTPRoute" | "GRPCRoute" if group_ok => (
                    "services",
                    controller_service_name(&p.spec.target_ref.name, &namespace),
                ),
                other => {
                    problems.push(FileProblem {
                        file: file.clone(),
                        problem: Problem {
                            severity: Severity::Error,
                            pointer: format!("[document {d}]/spec/targetRef"),
                            message: format!("IAMAuthPolicy `{name}` targets unsupported kind `{other}` (Invalid)"),
                            hint: Some("target a Gateway, HTTPRoute or GRPCRoute of group gateway.networking.k8s.io".into()),
                        },
                    });
                    continue;
                }
            };
            if taken.iter().any(|(c, t)| c == collection && *t == target) {
                problems.push(FileProblem {
                    file: file.clone(),
                    problem: Problem {
                        severity: Severity::Warning,
                        pointer: format!("[document {d}]"),
                        message: format!("IAMAuthPolicy `{name}` is Conflicted: an older policy already targets `{target}`; it is ignored"),
                        hint: None,
                    },
                });
                continue;
            }
            let document = Some(DocumentSpec {
                document: Some(serde_json::Value::String(p.spec.policy.clone())),
                document_file: None,
            });
            let index = match collection {
                "serviceNetworks" => world
                    .service_networks
                    .iter()
                    .position(|n| n.name == target)
                    .inspect(|i| {
                        if let Some(n) = world.service_networks.get_mut(*i) {
                            n.auth_policy = document;
                            n.auth_type = "AWS_IAM".into();
                        }
                    }),
                _ => world
                    .services
                    .iter()
                    .position(|s| s.name == target)
                    .inspect(|i| {
                        if let Some(s) = world.services.get_mut(*i) {
                            s.auth_policy = document;
                            s.auth_type = "AWS_IAM".into();
                        }
                    }),
            };
            match index {
                Some(i) => {
                    taken.push((collection.to_owned(), target));
                    let replacement = format!("[document {d}]/spec/policy");
                    origins.overrides.push((format!("/{collection}/{i}/authPolicy/document"), file, replacement.clone()));
                }
                None => problems.push(FileProblem {
                    file,
                    problem: Problem {
                        severity: Severity::Error,
                        pointer: format!("[document {d}]/spec/targetRef"),
                        message: format!(
                            "IAMAuthPolicy `{name}` targets `{}` `{}`, but no {} is named `{target}` (TargetNotFound)",
                            p.spec.target_ref.kind,
                            p.spec.target_ref.name,
                            if collection == "services" { "service" } else { "service network" }
                        ),
                        hint: None,
                    },
                }),
            }
        }
        let _ = self;
    }
}

fn merge_part(
    into: &mut WorldSpec,
    part: WorldSpec,
    file: &Option<String>,
    doc: usize,
    origins: &mut Origins,
) -> Result<(), String> {
    for (name, mine, theirs) in [
        ("partition", &mut into.partition, part.partition),
        ("region", &mut into.region, part.region),
    ] {
        match (mine.as_deref(), theirs) {
            (Some(a), Some(b)) if a != b => {
                return Err(format!("{name} `{b}` differs from `{a}` given earlier"));
            }
            (None, Some(b)) => *mine = Some(b),
            _ => {}
        }
    }
    macro_rules! extend {
        ($field:ident, $name:literal) => {
            for (local, item) in part.$field.into_iter().enumerate() {
                origins.items.insert(
                    ($name.to_owned(), into.$field.len()),
                    (file.clone(), doc, local),
                );
                into.$field.push(item);
            }
        };
    }
    extend!(organizations, "organizations");
    extend!(accounts, "accounts");
    extend!(managed_policies, "managedPolicies");
    extend!(users, "users");
    extend!(roles, "roles");
    extend!(vpcs, "vpcs");
    extend!(security_groups, "securityGroups");
    extend!(vpc_endpoints, "vpcEndpoints");
    extend!(service_networks, "serviceNetworks");
    extend!(services, "services");
    Ok(())
}

/// Resolves secrets and policy files relative to the world, and compiles through the cache.
struct FileLoader<'a> {
    base: Option<PathBuf>,
    cache: &'a moka::sync::Cache<[u8; 32], CompiledPolicy>,
    stats: Mutex<CacheStats>,
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
    fn secret(&self, source: &SecretSourceSpec) -> Result<String, String> {
        match source {
            SecretSourceSpec { value: Some(v), .. } => Ok(v.clone()),
            SecretSourceSpec { env: Some(var), .. } => std::env::var(var)
                .map_err(|_| format!("environment variable `{var}` is not set (or not UTF-8)")),
            SecretSourceSpec {
                file: Some(name), ..
            } => {
                if self.base.is_none() {
                    return Err(format!(
                        "secret file `{name}` needs a world loaded from files"
                    ));
                }
                let path = self.path(name);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("secret file `{}`: {e}", path.display()))?;
                Ok(text.trim_end_matches(['\n', '\r']).to_owned())
            }
            SecretSourceSpec {
                value: None,
                env: None,
                file: None,
            } => Err("give one of `value`, `env` or `file`".into()),
        }
    }

    fn document_file(&self, name: &str) -> Result<String, String> {
        if self.base.is_none() {
            return Err(format!(
                "policy file `{name}` needs a world loaded from files"
            ));
        }
        let path = self.path(name);
        read_limited(&path).map_err(|e| format!("policy file `{}`: {e}", path.display()))
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

    /// The documents as trees, to compare the two syntaxes.
    fn parse_documents(text: &str) -> Result<Vec<serde_json::Value>, serde_saphyr::Error> {
        read_documents(text).map(|docs| {
            docs.into_iter()
                .map(|doc| doc.parse::<serde_json::Value>().unwrap())
                .collect()
        })
    }

    #[test]
    fn json_documents_are_read_as_text_and_their_kind_peeked() {
        let text = r#"{"kind": "IAMAuthPolicy", "apiVersion": "v1", "spec": {}}
null
["IAMAuthPolicy", "v1"] {"kind": 5} {"region": "ap-northeast-1"}"#;
        let docs = read_documents(text).unwrap();
        assert!(docs.iter().all(|d| matches!(d, Document::Json(_))));
        let kinds: Vec<_> = docs.iter().map(Document::kind).collect();
        assert_eq!(
            kinds,
            [
                Some(("IAMAuthPolicy".to_owned(), "v1".to_owned())),
                None,
                None,
                None,
                None
            ]
        );
        let nulls: Vec<bool> = docs.iter().map(Document::is_null).collect();
        assert_eq!(nulls, [false, true, false, false, false]);
        let region = docs
            .into_iter()
            .nth(4)
            .unwrap()
            .parse::<serde_json::Value>();
        assert_eq!(region.unwrap()["region"], "ap-northeast-1");
    }

    #[test]
    fn json_and_yaml_documents_parse_alike() {
        let json = parse_documents("{\"region\": \"ap-northeast-1\", \"n\": [1, 2]}\n").unwrap();
        let yaml = parse_documents("region: ap-northeast-1\nn: [1, 2]\n").unwrap();
        assert_eq!(json, yaml);
        // Flow-style YAML is not JSON: the YAML parser reads it.
        assert_eq!(
            parse_documents("{region: ap-northeast-1, n: [1, 2]}").unwrap(),
            yaml
        );
        // A stream of JSON values is one document each.
        assert_eq!(parse_documents("{\"a\": 1} {\"b\": 2}").unwrap().len(), 2);
        // Errors are the YAML parser's.
        let error = parse_documents("{\"a\": [1, 2}").unwrap_err().to_string();
        assert!(!error.is_empty());
        // A repeated key is an error in both syntaxes, with the YAML parser's words.
        let json = parse_documents("{\"a\": 1, \"a\": 2}")
            .unwrap_err()
            .to_string();
        let yaml = parse_documents("a: 1\na: 2\n").unwrap_err().to_string();
        assert!(json.contains("duplicate mapping key"), "{json}");
        assert!(yaml.contains("duplicate mapping key"), "{yaml}");
        // Nested objects too; equal keys in different objects are fine.
        assert!(parse_documents("{\"a\": {\"b\": 1, \"b\": 1}}").is_err());
        assert_eq!(
            parse_documents("{\"a\": {\"b\": 1}, \"c\": {\"b\": 1}}")
                .unwrap()
                .len(),
            1
        );
        // More nodes than the YAML parser's default budget of 250,000 still parse.
        let big = format!("n: [{}]\n", vec!["1"; 300_000].join(", "));
        assert_eq!(parse_documents(&big).unwrap().len(), 1);
    }

    #[test]
    fn controller_names_routes() {
        assert_eq!(
            controller_service_name("inventory", "default"),
            "inventory-default"
        );
        assert_eq!(
            controller_service_name(
                "a-very-long-route-name-indeed",
                "a-very-long-namespace-name"
            ),
            "a-very-long-route-na-a-very-long-namesp"
        );
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

//! Loading the world: files and directories of YAML/JSON documents, secrets from environment
//! variables and files, the AWS Gateway API Controller's `IAMAuthPolicy` resources; compiling a
//! complete [`Snapshot`]; publishing it atomically; keeping the last good one when a change is
//! invalid.
//!
//! Compiled policies are cached by content hash, so a reload recompiles only what changed.
//! Everything here is synchronous: `app` runs [`Store::poll`] on a blocking thread.
//!
//! It must not touch: request handling.
//!
//! # Files
//!
//! This file holds the store and its publishing: the snapshot, the poll, the swap, the last good
//! world. `files` reads the world's files and gives the builder secrets and policy files;
//! `documents` parses and merges the documents (`tree` holds a YAML document until its kind is
//! known); `kubernetes` tells which Kubernetes objects are read and applies `IAMAuthPolicy`
//! resources;
//! `watch` tells from the files' metadata whether a poll must read them; `error` holds the problems
//! and errors.

mod documents;
mod error;
mod files;
mod kubernetes;
mod tree;
mod watch;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use arc_swap::ArcSwapOption;

use crate::config::{PayloadMode, Settings};
use crate::lattice::{CompiledPolicy, ReadError, World, WorldOptions};
use crate::sigv4::{self, Verifier};

pub use error::{FileProblem, LoadError};
pub use files::{CacheStats, MAX_SECRET_FILE_BYTES, MAX_WORLD_FILES};
use files::{FileLoader, Sources, read_sources, unreadable_fingerprint, world_file_problem};
use watch::{LastRead, Stamp};

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
            let sources = read_sources(
                self.settings.world.as_deref(),
                self.settings.max_world_bytes,
            );
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
        let result = sources.and_then(|sources| self.build(sources, now));
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
        let sources = read_sources(
            self.settings.world.as_deref(),
            self.settings.max_world_bytes,
        )?;
        self.build(sources, now)
    }

    fn world_options(&self) -> WorldOptions {
        WorldOptions {
            max_policy_bytes: self.settings.max_policy_bytes,
            bare_account_principal: self.settings.bare_account_principal,
            aws_wildcard_matches_anonymous: self.settings.aws_wildcard_matches_anonymous,
            anonymous_identity_header: self.settings.anonymous_identity_header,
            session_cache_bytes: self.settings.session_cache_bytes,
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

    /// Builds a snapshot from `sources`, consuming them: the texts are gone before the world
    /// is compiled.
    fn build(
        &self,
        sources: Sources,
        now: SystemTime,
    ) -> Result<(Arc<Snapshot>, Vec<FileProblem>), LoadError> {
        let source = sources.describe();
        let Sources { files, base, .. } = sources;
        let (spec, origins) = documents::merge(files, self.settings.max_world_nodes)?;
        let loader = FileLoader {
            base,
            max_file_bytes: self.settings.max_world_bytes,
            cache: &self.policies,
            stats: Mutex::new(CacheStats::default()),
        };
        let world =
            World::build(&spec, &self.world_options(), &loader).map_err(|problems| LoadError {
                problems: origins.locate_all(problems.into_iter()),
            })?;
        if let (Ok(mut last), Ok(stats)) = (self.last_cache.lock(), loader.stats.lock()) {
            *last = *stats;
        }
        let warnings = origins.locate_all(world.warnings.iter().cloned());
        let verifier = self.verifier_for(&world.region);
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let snapshot = Arc::new(Snapshot {
            world,
            verifier,
            generation,
            loaded_at: now,
            source,
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
        let max = self.settings.max_world_bytes;
        let len = u64::try_from(text.len()).unwrap_or(u64::MAX);
        if len > max {
            let too_large = ReadError::TooLarge { len, limit: max };
            return Err(LoadError::one(
                Some(&path),
                world_file_problem(&too_large, max, max),
            ));
        }
        let sources = Sources {
            files: vec![(Some(path), text.to_owned())],
            base: None,
            extra: Vec::new(),
        };
        self.build(sources, now)
    }
}

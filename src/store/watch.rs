//! Watching the world's files: a stamp of their metadata, taken before each read, tells a poll
//! whether the files can have changed since the last one, so an unchanged world is not read
//! and hashed at every poll.
//!
//! It must not touch: the files' contents, the building or publishing of a snapshot.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::files::world_files;

/// What the last read of the world's files left for the next poll.
#[derive(Debug, Default)]
pub(super) struct LastRead {
    /// The files' stamp taken before that read, when it could be trusted.
    pub(super) stamp: Option<Stamp>,
    /// The files the world referenced then (policy documents, secrets).
    pub(super) referenced: Vec<PathBuf>,
}

/// What the file system says about a world's files (the directory too, for a directory world,
/// and the files it references), taken before reading them: equal stamps mean unchanged files.
/// A stamp is only taken when every time in it is already [`SETTLE`] in the past: a file
/// written within the same clock tick as it was stamped, or on a file system with coarse
/// timestamps, could change again without changing its stamp (git's "racy clean" problem), so
/// such files are read again instead.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Stamp(Vec<(PathBuf, Option<FileStamp>)>);

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
    pub(super) fn take(world: &Path, referenced: &[PathBuf], wall_now: SystemTime) -> Option<Self> {
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

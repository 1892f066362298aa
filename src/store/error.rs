//! The store's problems and errors: a problem with the file it is in, a world that could not be
//! loaded (every problem found), and the ways its documents can disagree.
//!
//! It must not touch: the file system or the snapshot; these are values, rendered once.

use std::fmt;
use std::path::Path;

use crate::lattice::Problem;
use crate::policy::Severity;

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
    pub(super) fn one(file: Option<&Path>, message: String) -> Self {
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

/// Two documents of one world that disagree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum MergeError {
    /// A setting of the whole world (`partition`, `region`) given twice, differently.
    #[error("{field} `{value}` differs from `{earlier}` given earlier")]
    Differs {
        /// The setting's key.
        field: &'static str,
        /// The value of this document.
        value: String,
        /// The value given by an earlier document.
        earlier: String,
    },
}

/// A world file's documents that could not be read.
#[derive(Debug, thiserror::Error)]
pub(super) enum DocumentsError {
    /// Neither YAML nor JSON.
    #[error("not valid YAML/JSON")]
    Syntax(#[source] serde_saphyr::Error),
    /// More nodes than a load may parse, in all the world's files together.
    #[error(
        "the world has more than {limit} nodes (mappings, sequences and scalars, keys included, in all its files); `max_world_nodes` raises the limit"
    )]
    TooManyNodes {
        /// The limit.
        limit: u64,
    },
}

/// A document that is not what its kind says.
#[derive(Debug, thiserror::Error)]
pub(super) enum DocumentError {
    /// In a JSON document.
    #[error(transparent)]
    Json(serde_json::Error),
    /// In a YAML document.
    #[error(transparent)]
    Tree(serde::de::value::Error),
}

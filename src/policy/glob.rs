//! IAM wildcard patterns: `*` matches any run of characters (including none), `?` exactly one
//! character; every other character is literal (IAM has no escape syntax).
//!
//! Patterns are split once, at compile time, into literal chunks separated by `*`. Matching
//! anchors the first chunk at the start and the last at the end, then finds every middle chunk
//! at its leftmost position. Leftmost placement is always safe (a later placement leaves less
//! text for the rest), so there is no backtracking: cost is O(text × longest chunk) whatever the
//! number of stars (`*a*a*a*b` included). No regex is built at request time.

/// One token of a pattern, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    /// `*`.
    Star,
    /// `?`.
    One,
    /// Literal text.
    Lit(&'a str),
}

/// A token owned by a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GTok {
    Star,
    One,
    Lit(Box<str>),
}

/// Anything the matcher can read as a [`Tok`].
pub(crate) trait AsTok {
    fn tok(&self) -> Tok<'_>;
}

impl AsTok for Tok<'_> {
    fn tok(&self) -> Tok<'_> {
        *self
    }
}

impl AsTok for GTok {
    fn tok(&self) -> Tok<'_> {
        match self {
            GTok::Star => Tok::Star,
            GTok::One => Tok::One,
            GTok::Lit(s) => Tok::Lit(s),
        }
    }
}

/// Splits IAM wildcard text into tokens; consecutive `*` collapse into one.
pub(crate) fn tokenize(pattern: &str) -> Vec<GTok> {
    let mut out = Vec::new();
    let mut lit = String::new();
    for c in pattern.chars() {
        match c {
            '*' | '?' => {
                if !lit.is_empty() {
                    out.push(GTok::Lit(std::mem::take(&mut lit).into()));
                }
                if c == '?' {
                    out.push(GTok::One);
                } else if out.last() != Some(&GTok::Star) {
                    out.push(GTok::Star);
                }
            }
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push(GTok::Lit(lit.into()));
    }
    out
}

/// A compiled wildcard pattern.
///
/// With `ascii_case_insensitive` (actions), the pattern is stored lower-cased and compared
/// ASCII-case-insensitively, so the request text is never copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    kind: Kind,
    ci: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// `*`: everything.
    Any,
    /// No wildcard at all.
    Exact(Box<str>),
    /// `literal*`.
    Prefix(Box<str>),
    /// Anything else.
    General(Box<[GTok]>),
}

impl Glob {
    /// Compiles `pattern`. `ascii_case_insensitive` folds ASCII letters (IAM actions).
    pub fn new(pattern: &str, ascii_case_insensitive: bool) -> Self {
        let owned;
        let pattern = if ascii_case_insensitive {
            owned = pattern.to_ascii_lowercase();
            owned.as_str()
        } else {
            pattern
        };
        let toks = tokenize(pattern);
        let kind = match toks.as_slice() {
            [GTok::Star] => Kind::Any,
            [] => Kind::Exact("".into()),
            [GTok::Lit(s)] => Kind::Exact(s.clone()),
            [GTok::Lit(s), GTok::Star] => Kind::Prefix(s.clone()),
            _ => Kind::General(toks.into_boxed_slice()),
        };
        Self {
            kind,
            ci: ascii_case_insensitive,
        }
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        match &self.kind {
            Kind::Any => true,
            Kind::Exact(s) => eq(s, text, self.ci),
            Kind::Prefix(p) => text
                .as_bytes()
                .get(..p.len())
                .is_some_and(|head| bytes_eq(p.as_bytes(), head, self.ci)),
            Kind::General(toks) => match_toks(toks, text, self.ci),
        }
    }

    /// Whether the pattern contains `*` or `?`.
    pub fn has_wildcards(&self) -> bool {
        !matches!(self.kind, Kind::Exact(_))
    }

    /// Whether the pattern is a lone `*`.
    pub fn is_any(&self) -> bool {
        matches!(self.kind, Kind::Any)
    }
}

fn bytes_eq(pattern: &[u8], text: &[u8], ci: bool) -> bool {
    if ci {
        pattern.eq_ignore_ascii_case(text)
    } else {
        pattern == text
    }
}

fn eq(pattern: &str, text: &str, ci: bool) -> bool {
    bytes_eq(pattern.as_bytes(), text.as_bytes(), ci)
}

fn is_star<T: AsTok>(t: &T) -> bool {
    matches!(t.tok(), Tok::Star)
}

/// Matches a chunk (no `*`) at byte `pos`; returns the end of the match.
fn chunk_at<T: AsTok>(chunk: &[T], text: &str, mut pos: usize, ci: bool) -> Option<usize> {
    for t in chunk {
        match t.tok() {
            Tok::Lit(s) => {
                let end = pos.checked_add(s.len())?;
                let head = text.as_bytes().get(pos..end)?;
                if !bytes_eq(s.as_bytes(), head, ci) {
                    return None;
                }
                pos = end;
            }
            Tok::One => {
                let c = text.get(pos..)?.chars().next()?;
                pos += c.len_utf8();
            }
            Tok::Star => return None,
        }
    }
    Some(pos)
}

/// Matches a chunk (no `*`) ending exactly at byte `end`; returns the start of the match.
fn chunk_before<T: AsTok>(chunk: &[T], text: &str, mut end: usize, ci: bool) -> Option<usize> {
    for t in chunk.iter().rev() {
        match t.tok() {
            Tok::Lit(s) => {
                let start = end.checked_sub(s.len())?;
                let tail = text.as_bytes().get(start..end)?;
                if !bytes_eq(s.as_bytes(), tail, ci) || !text.is_char_boundary(start) {
                    return None;
                }
                end = start;
            }
            Tok::One => {
                let c = text.get(..end)?.chars().next_back()?;
                end -= c.len_utf8();
            }
            Tok::Star => return None,
        }
    }
    Some(end)
}

/// Finds the leftmost match of `chunk` starting at or after `from` and ending at or before
/// `limit`; returns its end.
fn find_chunk<T: AsTok>(
    chunk: &[T],
    text: &str,
    from: usize,
    limit: usize,
    ci: bool,
) -> Option<usize> {
    let hay = text.get(..limit)?;
    if let ([t], false) = (chunk, ci)
        && let Tok::Lit(s) = t.tok()
    {
        let at = hay.get(from..)?.find(s)?;
        return Some(from + at + s.len());
    }
    let mut start = from;
    loop {
        if let Some(end) = chunk_at(chunk, hay, start, ci) {
            return Some(end);
        }
        let c = hay.get(start..)?.chars().next()?;
        start += c.len_utf8();
    }
}

/// Matches a token sequence against the whole of `text`.
pub(crate) fn match_toks<T: AsTok>(toks: &[T], text: &str, ci: bool) -> bool {
    let Some(first_star) = toks.iter().position(is_star) else {
        return chunk_at(toks, text, 0, ci) == Some(text.len());
    };
    let last_star = toks.iter().rposition(is_star).unwrap_or(first_star);
    let (Some(head), Some(middle), Some(tail)) = (
        toks.get(..first_star),
        toks.get(first_star + 1..last_star.max(first_star + 1)),
        toks.get(last_star + 1..),
    ) else {
        return false;
    };
    let Some(mut pos) = chunk_at(head, text, 0, ci) else {
        return false;
    };
    let Some(limit) = chunk_before(tail, text, text.len(), ci) else {
        return false;
    };
    if limit < pos {
        return false;
    }
    for chunk in middle.split(is_star) {
        if chunk.is_empty() {
            continue;
        }
        match find_chunk(chunk, text, pos, limit, ci) {
            Some(end) => pos = end,
            None => return false,
        }
    }
    true
}

/// The obviously-correct exponential matcher the property tests compare against.
#[cfg(test)]
pub(crate) fn naive_match(pattern: &[char], text: &[char]) -> bool {
    match (pattern.split_first(), text.split_first()) {
        (None, _) => text.is_empty(),
        (Some(('*', rest)), _) => {
            naive_match(rest, text) || (!text.is_empty() && naive_match(pattern, &text[1..]))
        }
        (Some(('?', rest)), Some((_, trest))) => naive_match(rest, trest),
        (Some((p, rest)), Some((t, trest))) => p == t && naive_match(rest, trest),
        (Some(_), None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(p: &str, t: &str) -> bool {
        Glob::new(p, false).matches(t)
    }

    #[test]
    fn basics() {
        assert!(m("*", ""));
        assert!(m("a*", "abc"));
        assert!(!m("a*", "ba"));
        assert!(m("*c", "abc"));
        assert!(m("a?c", "abc"));
        assert!(m("a?c", "aéc"));
        assert!(!m("a?c", "ac"));
        assert!(m("*a*a*a*b", "aaaaaaaaab"));
        assert!(!m("*a*a*a*b", &"a".repeat(10_000)));
        assert!(!m("ab*ba", "aba"));
        assert!(m("ab*ba", "abba"));
        assert!(m("*?", "x"));
        assert!(!m("*?", ""));
        assert!(m("é*é", "éé"));
        assert!(!m("é*é", "é"));
    }

    #[test]
    fn case_insensitive_actions() {
        let g = Glob::new("IAM:*AccessKey*", true);
        assert!(g.matches("iam:listaccesskeys"));
        assert!(g.matches("IAM:ListAccessKeys"));
        assert!(!g.matches("s3:ListAccessKeys"));
        assert!(Glob::new("s3:Get*", true).matches("S3:GETOBJECT"));
    }

    fn alphabet() -> impl Strategy<Value = String> {
        proptest::collection::vec(prop::sample::select(vec!['a', 'b', 'é', '/', ':']), 0..12)
            .prop_map(|v| v.into_iter().collect())
    }

    fn pattern() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop::sample::select(vec!['a', 'b', 'é', '/', ':', '*', '?']),
            0..10,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn agrees_with_naive(p in pattern(), t in alphabet()) {
            let pc: Vec<char> = p.chars().collect();
            let tc: Vec<char> = t.chars().collect();
            prop_assert_eq!(Glob::new(&p, false).matches(&t), naive_match(&pc, &tc), "pattern {:?} text {:?}", p, t);
        }

        #[test]
        fn ci_agrees_with_lowercased_naive(p in pattern(), t in alphabet()) {
            let up = t.to_ascii_uppercase();
            let pc: Vec<char> = p.chars().collect();
            let tc: Vec<char> = t.chars().collect();
            prop_assert_eq!(Glob::new(&p.to_ascii_uppercase(), true).matches(&up), naive_match(&pc, &tc));
        }
    }
}

//! Glob and grep over the namespace. Both enumerate through [`Files::ls`], so they see exactly
//! what a listing would show the caller.

use globset::{GlobBuilder, GlobMatcher};
use nexus_path::VfsPath;
use regex::{Regex, RegexBuilder};
use unicode_normalization::UnicodeNormalization;

use super::{Files, Fs, ListOptions, MAX_PAGE_SIZE};
use crate::entry::{ContextLine, Entry, GlobResult, GrepMatch, GrepResult};
use crate::error::FsError;
use crate::principal::CallContext;

/// Default and largest number of glob results.
pub const DEFAULT_GLOB_LIMIT: usize = 10_000;
const MAX_GLOB_LIMIT: usize = 100_000;
/// Default and largest number of grep matches.
pub const DEFAULT_GREP_MATCHES: usize = 1000;
const MAX_GREP_MATCHES: usize = 100_000;
const MAX_CONTEXT_LINES: usize = 100;
/// Files larger than this are not searched by default.
pub const DEFAULT_GREP_MAX_FILE_BYTES: u64 = 16 << 20;
/// How much of a file is inspected for NUL bytes to decide it is binary.
const BINARY_SNIFF_BYTES: usize = 8192;
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Options of [`Files::glob`].
#[derive(Debug, Clone, Default)]
pub struct GlobOptions {
    /// Most results ([`DEFAULT_GLOB_LIMIT`] when unset).
    pub limit: Option<usize>,
}

/// Options of [`Files::grep`].
#[derive(Debug, Clone, Default)]
pub struct GrepOptions {
    pub ignore_case: bool,
    /// Lines of context before and after each match.
    pub context: usize,
    /// Most matches ([`DEFAULT_GREP_MATCHES`] when unset).
    pub max_matches: Option<usize>,
    /// Only files whose name (or, if the pattern has a `/`, whose path) matches this glob.
    pub include: Option<String>,
    /// Skip larger files ([`DEFAULT_GREP_MAX_FILE_BYTES`] when unset).
    pub max_file_bytes: Option<u64>,
}

fn has_glob_syntax(segment: &str) -> bool {
    segment.contains(['*', '?', '[', ']', '{', '}', '\\'])
}

fn compile_glob(pattern: &str) -> Result<GlobMatcher, FsError> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map(|glob| glob.compile_matcher())
        .map_err(|error| FsError::invalid(format!("invalid glob `{pattern}`: {}", error.kind())))
}

fn bounded(value: Option<usize>, default: usize, max: usize, what: &str) -> Result<usize, FsError> {
    let value = value.unwrap_or(default);
    if value == 0 || value > max {
        return Err(FsError::invalid(format!(
            "invalid {what} {value}: use 1 to {max}"
        )));
    }
    Ok(value)
}

impl Files<'_> {
    /// Calls `visit` for every entry beneath `dir` in path order, page by page, until it
    /// returns `false`.
    async fn walk(
        self,
        context: &CallContext,
        dir: &VfsPath,
        mut visit: impl AsyncVisitor,
    ) -> Result<(), FsError> {
        let mut cursor = None;
        loop {
            let page = self
                .ls(
                    context,
                    dir.as_str(),
                    ListOptions {
                        recursive: true,
                        limit: Some(MAX_PAGE_SIZE),
                        cursor,
                    },
                )
                .await?;
            for entry in page.entries {
                if !visit.visit(&self, entry).await? {
                    return Ok(());
                }
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Entries whose path matches an absolute glob pattern: `*` and `?` stay within one
    /// segment, `**` spans any number of segments, `[...]` and `{a,b}` as usual.
    pub async fn glob(
        self,
        context: &CallContext,
        pattern: &str,
        options: GlobOptions,
    ) -> Result<GlobResult, FsError> {
        let limit = bounded(
            options.limit,
            DEFAULT_GLOB_LIMIT,
            MAX_GLOB_LIMIT,
            "glob limit",
        )?;
        let pattern: String = pattern.nfc().collect();
        let Some(relative) = pattern.strip_prefix('/') else {
            return Err(FsError::invalid(format!(
                "invalid glob `{pattern}`: it must be absolute (start with `/`)"
            )));
        };
        let segments: Vec<&str> = relative.split('/').collect();
        if segments
            .iter()
            .any(|segment| matches!(*segment, "." | ".."))
        {
            return Err(FsError::invalid(format!(
                "invalid glob `{pattern}`: `.` and `..` segments are not allowed"
            )));
        }
        let literal = segments
            .iter()
            .take_while(|segment| !has_glob_syntax(segment))
            .count();
        if literal == segments.len() {
            // No wildcard: the pattern names one path.
            return match self.stat(context, &pattern).await {
                Ok(entry) => Ok(GlobResult {
                    entries: vec![entry],
                    truncated: false,
                }),
                Err(error) if error.code() == crate::ErrorCode::NotFound => Ok(GlobResult {
                    entries: Vec::new(),
                    truncated: false,
                }),
                Err(error) => Err(error),
            };
        }
        let base = VfsPath::parse(&format!(
            "/{}",
            segments.get(..literal).unwrap_or(&[]).join("/")
        ))?;
        let matcher = compile_glob(&pattern)?;
        let mut collector = GlobCollector {
            matcher,
            limit,
            entries: Vec::new(),
            truncated: false,
        };
        match self.walk(context, &base, &mut collector).await {
            Ok(()) => {}
            // A missing base simply matches nothing.
            Err(error) if error.code() == crate::ErrorCode::NotFound => {}
            Err(error) => return Err(error),
        }
        Ok(GlobResult {
            entries: collector.entries,
            truncated: collector.truncated,
        })
    }

    /// Lines matching a regular expression in the text files at `path` (a file, or a
    /// directory searched recursively). Binary, non-UTF-8 and oversized files are skipped.
    pub async fn grep(
        self,
        context: &CallContext,
        pattern: &str,
        path: &str,
        options: GrepOptions,
    ) -> Result<GrepResult, FsError> {
        let max_matches = bounded(
            options.max_matches,
            DEFAULT_GREP_MATCHES,
            MAX_GREP_MATCHES,
            "match limit",
        )?;
        if options.context > MAX_CONTEXT_LINES {
            return Err(FsError::invalid(format!(
                "invalid context {}: use 0 to {MAX_CONTEXT_LINES} lines",
                options.context
            )));
        }
        let regex = RegexBuilder::new(pattern)
            .case_insensitive(options.ignore_case)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|error| FsError::invalid(format!("invalid regular expression: {error}")))?;
        let include = options
            .include
            .as_deref()
            .map(|glob| Ok::<_, FsError>((compile_glob(glob)?, glob.contains('/'))))
            .transpose()?;
        let mut searcher = Searcher {
            context: context.clone(),
            regex,
            include,
            context_lines: options.context,
            max_matches,
            max_file_bytes: options
                .max_file_bytes
                .unwrap_or(DEFAULT_GREP_MAX_FILE_BYTES),
            result: GrepResult {
                matches: Vec::new(),
                files_searched: 0,
                files_skipped: 0,
                truncated: false,
            },
        };
        let root = self.stat(context, path).await?;
        if root.is_dir() {
            let dir = VfsPath::parse(&root.path)?;
            self.walk(context, &dir, &mut searcher).await?;
        } else {
            searcher.visit(&self, root).await?;
        }
        Ok(searcher.result)
    }
}

/// Something that looks at entries of a walk; `false` stops the walk.
trait AsyncVisitor {
    async fn visit(&mut self, fs: &Fs, entry: Entry) -> Result<bool, FsError>;
}

impl<T: AsyncVisitor> AsyncVisitor for &mut T {
    async fn visit(&mut self, fs: &Fs, entry: Entry) -> Result<bool, FsError> {
        (**self).visit(fs, entry).await
    }
}

struct GlobCollector {
    matcher: GlobMatcher,
    limit: usize,
    entries: Vec<Entry>,
    truncated: bool,
}

impl AsyncVisitor for GlobCollector {
    async fn visit(&mut self, _fs: &Fs, entry: Entry) -> Result<bool, FsError> {
        if !self.matcher.is_match(&entry.path) {
            return Ok(true);
        }
        if self.entries.len() == self.limit {
            self.truncated = true;
            return Ok(false);
        }
        self.entries.push(entry);
        Ok(true)
    }
}

struct Searcher {
    context: CallContext,
    regex: Regex,
    /// File filter, and whether it applies to the whole path (else to the name).
    include: Option<(GlobMatcher, bool)>,
    context_lines: usize,
    max_matches: usize,
    max_file_bytes: u64,
    result: GrepResult,
}

impl AsyncVisitor for Searcher {
    async fn visit(&mut self, fs: &Fs, entry: Entry) -> Result<bool, FsError> {
        if entry.is_dir() {
            return Ok(true);
        }
        if let Some((glob, whole_path)) = &self.include {
            let subject = if *whole_path {
                &entry.path
            } else {
                &entry.name
            };
            if !glob.is_match(subject) {
                return Ok(true);
            }
        }
        if entry.size > self.max_file_bytes {
            self.result.files_skipped += 1;
            return Ok(true);
        }
        let content = fs
            .files()
            .read(&self.context, &entry.path, super::ReadOptions::default())
            .await?
            .content;
        let sniff = content
            .get(..content.len().min(BINARY_SNIFF_BYTES))
            .unwrap_or(&[]);
        let text = match std::str::from_utf8(&content) {
            Ok(text) if !sniff.contains(&0) => text,
            _ => {
                self.result.files_skipped += 1;
                return Ok(true);
            }
        };
        self.result.files_searched += 1;
        let body = text.strip_suffix('\n').unwrap_or(text);
        let lines: Vec<&str> = body
            .split('\n')
            .map(|line| line.strip_suffix('\r').unwrap_or(line))
            .collect();
        for (index, line) in lines.iter().enumerate() {
            if !self.regex.is_match(line) {
                continue;
            }
            if self.result.matches.len() == self.max_matches {
                self.result.truncated = true;
                return Ok(false);
            }
            let context = |range: std::ops::Range<usize>| -> Vec<ContextLine> {
                range
                    .filter_map(|at| {
                        lines.get(at).map(|text| ContextLine {
                            line_number: line_number(at),
                            text: (*text).to_owned(),
                        })
                    })
                    .collect()
            };
            self.result.matches.push(GrepMatch {
                path: entry.path.clone(),
                line_number: line_number(index),
                text: (*line).to_owned(),
                before: context(index.saturating_sub(self.context_lines)..index),
                after: context(index + 1..(index + 1 + self.context_lines).min(lines.len())),
            });
        }
        Ok(true)
    }
}

fn line_number(index: usize) -> u64 {
    u64::try_from(index).unwrap_or(u64::MAX).saturating_add(1)
}

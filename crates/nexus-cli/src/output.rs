//! Rendering results: aligned text for people, JSON for scripts. Data goes to stdout,
//! messages to stderr.

use std::io::Write;

use nexus_core::{Entry, ErrorCode, GrepResult, VersionInfo};
use serde::Serialize;

/// A failure of a command, with what the user needs to act on it.
#[derive(Debug)]
pub struct CliError {
    pub code: ErrorCode,
    pub message: String,
    pub hint: Option<String>,
    /// The server's id of the request that failed (shown for server-side failures and in
    /// `--json` output).
    pub request_id: Option<String>,
}

impl CliError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
            hint: None,
            request_id: None,
        }
    }

    /// Whether the failure is the server's (its logs, found by request id, say more).
    fn on_the_server(&self) -> bool {
        matches!(
            self.code,
            ErrorCode::Internal
                | ErrorCode::DataCorrupt
                | ErrorCode::Unavailable
                | ErrorCode::Timeout
        )
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// For commands with a `-p` flag: a missing parent is fixed by passing it.
    pub fn suggest_parents_flag(self) -> Self {
        if self.code == ErrorCode::ParentNotFound {
            self.with_hint("pass `-p` to create missing parent directories")
        } else {
            self
        }
    }

    /// The process exit status for this error (documented in `docs/cli.md`).
    pub fn exit_code(&self) -> u8 {
        match self.code {
            ErrorCode::Internal | ErrorCode::DataCorrupt | ErrorCode::EvaluationFailed => 1,
            ErrorCode::InvalidPath
            | ErrorCode::InvalidInput
            | ErrorCode::RangeNotSatisfiable
            | ErrorCode::PayloadTooLarge
            | ErrorCode::MethodNotAllowed
            | ErrorCode::ScopeNotAllowed => 2,
            ErrorCode::NotFound | ErrorCode::ParentNotFound => 3,
            ErrorCode::AlreadyExists
            | ErrorCode::PreconditionFailed
            | ErrorCode::NotADirectory
            | ErrorCode::IsADirectory
            | ErrorCode::DirectoryNotEmpty
            | ErrorCode::Conflict => 4,
            ErrorCode::PermissionDenied | ErrorCode::Unauthenticated => 5,
            ErrorCode::Unavailable
            | ErrorCode::Timeout
            | ErrorCode::TooManyRequests
            | ErrorCode::LockerUnavailable => 6,
        }
    }
}

impl From<nexus_core::FsError> for CliError {
    fn from(error: nexus_core::FsError) -> Self {
        CliError {
            code: error.code(),
            message: error.to_string(),
            hint: error.hint(),
            request_id: None,
        }
    }
}

/// Where and how results are printed.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub json: bool,
}

impl Printer {
    /// A message for the user on stderr (suppressed in JSON mode, where stdout says it all).
    pub fn note(self, message: &str) {
        if !self.json {
            eprintln!("{message}");
        }
    }

    pub fn error(self, error: &CliError) {
        if self.json {
            // The API's error envelope; `hint` only when there is one, as on the wire.
            let mut detail = serde_json::Map::new();
            detail.insert("code".to_owned(), error.code.as_str().into());
            detail.insert("message".to_owned(), error.message.clone().into());
            detail.insert("request_id".to_owned(), error.request_id.clone().into());
            if let Some(hint) = &error.hint {
                detail.insert("hint".to_owned(), hint.clone().into());
            }
            let body = serde_json::json!({ "error": detail });
            eprintln!("{body}");
        } else {
            eprintln!("error: {}", error.message);
            if let Some(hint) = &error.hint {
                eprintln!("hint: {hint}");
            }
            if let Some(id) = error
                .request_id
                .as_deref()
                .filter(|_| error.on_the_server())
            {
                eprintln!("hint: the server's request id is {id} (in its logs)");
            }
        }
    }
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|error| CliError::new(ErrorCode::Internal, error.to_string()))?;
    write_stdout(format!("{text}\n").as_bytes())
}

/// Writes to stdout, treating a closed pipe (`nexus cat big | head`) as success.
pub fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(CliError::new(
            ErrorCode::Internal,
            format!("cannot write to stdout: {error}"),
        )),
    }
}

/// `2026-11-22T20:10:00.123456Z` as `2026-11-22 20:10:00`; the epoch (the fixed
/// directories `/` and `/orgs`, which were never modified) as `-`.
fn short_time(rfc3339: &str) -> String {
    if rfc3339.starts_with("1970-01-01T00:00:00.000000") {
        return "-".to_owned();
    }
    rfc3339.get(..19).unwrap_or(rfc3339).replace('T', " ")
}

/// Left-aligned columns separated by two spaces; `right` marks right-aligned columns.
fn table(rows: &[Vec<String>], right: &[bool]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .filter_map(|row| row.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            let width = widths.get(column).copied().unwrap_or(0);
            let last = column + 1 == row.len();
            let pad = width.saturating_sub(cell.chars().count());
            if right.get(column).copied().unwrap_or(false) {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                if !last {
                    line.push_str(&" ".repeat(pad));
                }
            }
            if !last {
                line.push_str("  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `ls` lines: kind, size, modification time, name (path when recursive).
pub fn entries(entries: &[Entry], full_paths: bool) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|entry| {
            let mut name = if full_paths {
                entry.path.clone()
            } else {
                entry.name.clone()
            };
            if entry.is_dir() && name != "/" {
                name.push('/');
            }
            vec![
                if entry.is_dir() { "dir" } else { "file" }.to_owned(),
                if entry.is_dir() {
                    "-".to_owned()
                } else {
                    entry.size.to_string()
                },
                short_time(&entry.modified_at),
                name,
            ]
        })
        .collect();
    table(&rows, &[false, true, false, false])
}

/// `stat` lines.
pub fn entry(entry: &Entry) -> String {
    let mut rows = vec![
        vec!["path:".to_owned(), entry.path.clone()],
        vec![
            "kind:".to_owned(),
            if entry.is_dir() { "directory" } else { "file" }.to_owned(),
        ],
    ];
    if !entry.is_dir() {
        rows.push(vec!["size:".to_owned(), format!("{} bytes", entry.size)]);
        rows.push(vec!["version:".to_owned(), entry.version.to_string()]);
        rows.push(vec![
            "etag:".to_owned(),
            entry.etag.clone().unwrap_or_default(),
        ]);
        rows.push(vec![
            "hash:".to_owned(),
            format!("blake3:{}", entry.hash.clone().unwrap_or_default()),
        ]);
    }
    rows.push(vec!["created:".to_owned(), entry.created_at.clone()]);
    rows.push(vec!["modified:".to_owned(), entry.modified_at.clone()]);
    rows.push(vec!["author:".to_owned(), entry.author.clone()]);
    table(&rows, &[])
}

/// `versions` table, newest first, the current one starred.
pub fn versions(versions: &[VersionInfo]) -> String {
    let mut rows = vec![
        ["VERSION", "SIZE", "CREATED", "AUTHOR", "ETAG"]
            .map(str::to_owned)
            .to_vec(),
    ];
    rows.extend(versions.iter().map(|version| {
        vec![
            format!(
                "{}{}",
                if version.current { "*" } else { "" },
                version.version
            ),
            version.size.to_string(),
            short_time(&version.created_at),
            version.author.clone(),
            version.etag.clone(),
        ]
    }));
    table(&rows, &[true, true, false, false, false])
}

/// grep-style lines: `path:line:text` for matches, `path-line-text` for context lines and,
/// when context was asked for, `--` between groups that are not adjacent.
pub fn grep(result: &GrepResult, with_context: bool) -> String {
    let mut out = String::new();
    let mut last: Option<(&str, u64)> = None;
    for (index, found) in result.matches.iter().enumerate() {
        // Context after a match stops where the next match in the same file begins, so that
        // line is printed as a match.
        let next_match = result
            .matches
            .get(index + 1)
            .filter(|next| next.path == found.path)
            .map_or(u64::MAX, |next| next.line_number);
        let lines = found
            .before
            .iter()
            .map(|line| (line.line_number, line.text.as_str(), '-'))
            .chain(std::iter::once((
                found.line_number,
                found.text.as_str(),
                ':',
            )))
            .chain(
                found
                    .after
                    .iter()
                    .filter(|line| line.line_number < next_match)
                    .map(|line| (line.line_number, line.text.as_str(), '-')),
            );
        for (number, text, separator) in lines {
            if let Some((path, previous)) = last {
                let same_file = path == found.path;
                if same_file && number <= previous {
                    continue; // already printed as context of the previous match
                }
                if with_context && !(same_file && number == previous + 1) {
                    out.push_str("--\n");
                }
            }
            out.push_str(&format!(
                "{}{separator}{number}{separator}{text}\n",
                found.path
            ));
            last = Some((found.path.as_str(), number));
        }
    }
    out
}

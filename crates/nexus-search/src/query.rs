//! The query language: words (all must match, in the text or the name; stemmed, so
//! `deploying` finds `deployed`), `"quoted phrases"`, `prefix*` (at least two letters or
//! digits), and `-word` to exclude. Nothing else is syntax: other punctuation separates words.

use tantivy::query::{BooleanQuery, Occur, PhraseQuery, Query, RegexQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{Index, Term};

use crate::IndexError;

/// Longest query text.
const MAX_QUERY_CHARS: usize = 1000;
/// Most words, phrases and prefixes in one query.
const MAX_PARTS: usize = 32;
/// Shortest prefix.
const MIN_PREFIX_CHARS: usize = 2;
/// Longest prefix, in bytes: the tokenizer drops longer words, so a longer prefix could
/// never match (and its automaton would be large).
const MAX_PREFIX_BYTES: usize = 40;

/// A query the index can run, checked when parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedQuery {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    kind: PartKind,
    text: String,
    excluded: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartKind {
    Word,
    Phrase,
    Prefix,
}

/// Why a query text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

impl ParsedQuery {
    /// Checks a text searched by meaning (not parsed): not blank, not too long.
    pub fn check_text(text: &str) -> Result<(), QueryError> {
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(QueryError(format!(
                "the query is longer than {MAX_QUERY_CHARS} characters"
            )));
        }
        if text.trim().is_empty() {
            return Err(QueryError("the query needs at least one word".to_owned()));
        }
        Ok(())
    }

    /// Parses a query text.
    pub fn parse(text: &str) -> Result<ParsedQuery, QueryError> {
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(QueryError(format!(
                "the query is longer than {MAX_QUERY_CHARS} characters"
            )));
        }
        let mut parts = Vec::new();
        let mut chars = text.chars().peekable();
        while let Some(&next) = chars.peek() {
            if next.is_whitespace() {
                chars.next();
                continue;
            }
            let excluded = next == '-';
            if excluded {
                chars.next();
            }
            if chars.peek() == Some(&'"') {
                chars.next();
                let mut phrase = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '"' {
                        closed = true;
                        break;
                    }
                    phrase.push(c);
                }
                if !closed {
                    return Err(QueryError(
                        "a phrase is missing its closing quote (`\"`)".to_owned(),
                    ));
                }
                parts.push(Part {
                    kind: PartKind::Phrase,
                    text: phrase,
                    excluded,
                });
                continue;
            }
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '"' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            if let Some(prefix) = word.strip_suffix('*') {
                let prefix = prefix.to_lowercase();
                if prefix.chars().count() < MIN_PREFIX_CHARS
                    || prefix.len() > MAX_PREFIX_BYTES
                    || !prefix.chars().all(char::is_alphanumeric)
                {
                    return Err(QueryError(format!(
                        "`{word}`: a prefix search needs {MIN_PREFIX_CHARS} to {MAX_PREFIX_BYTES} letters or digits before `*`, and nothing else"
                    )));
                }
                parts.push(Part {
                    kind: PartKind::Prefix,
                    text: prefix,
                    excluded,
                });
            } else if !word.is_empty() {
                parts.push(Part {
                    kind: PartKind::Word,
                    text: word,
                    excluded,
                });
            }
        }
        if parts.len() > MAX_PARTS {
            return Err(QueryError(format!(
                "the query has more than {MAX_PARTS} words, phrases and prefixes"
            )));
        }
        if parts.iter().all(|part| part.excluded) {
            return Err(QueryError(
                "the query needs at least one word, phrase or prefix to look for (not only `-excluded` ones)".to_owned(),
            ));
        }
        Ok(ParsedQuery { parts })
    }

    /// The query over `text` and `name`. A query with nothing searchable in it (only
    /// punctuation) matches nothing.
    pub(crate) fn compile(
        &self,
        index: &Index,
        text: Field,
        name: Field,
    ) -> Result<Box<dyn Query>, IndexError> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut wanted = false;
        for part in &self.parts {
            let mut either: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for field in [text, name] {
                if let Some(query) = part.compile(index, field)? {
                    either.push((Occur::Should, query));
                }
            }
            if either.is_empty() {
                continue;
            }
            let occur = if part.excluded {
                Occur::MustNot
            } else {
                wanted = true;
                Occur::Must
            };
            clauses.push((occur, Box::new(BooleanQuery::new(either))));
        }
        if !wanted {
            return Ok(Box::new(BooleanQuery::new(Vec::new())));
        }
        Ok(Box::new(BooleanQuery::new(clauses)))
    }
}

impl Part {
    fn compile(&self, index: &Index, field: Field) -> Result<Option<Box<dyn Query>>, IndexError> {
        if self.kind == PartKind::Prefix {
            let pattern = format!("{}.*", self.text);
            return Ok(Some(Box::new(RegexQuery::from_pattern(&pattern, field)?)));
        }
        let mut analyzer = index.tokenizer_for_field(field)?;
        let mut stream = analyzer.token_stream(&self.text);
        let mut terms: Vec<(usize, Term)> = Vec::new();
        while stream.advance() {
            let token = stream.token();
            terms.push((token.position, Term::from_field_text(field, &token.text)));
        }
        Ok(match terms.len() {
            0 => None,
            1 => terms.pop().map(|(_, term)| {
                Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)) as Box<dyn Query>
            }),
            _ => Some(Box::new(PhraseQuery::new_with_offset(terms))),
        })
    }
}

//! Relationships as data, and their text form
//! `type:id#relation@type:id[#relation][[caveat[:{json}]]][[expiration:RFC3339]]`.

use std::fmt;

use crate::caveat::CaveatContext;

/// The id that stands for every object of a type in a subject (`user:*`).
pub const WILDCARD: &str = "*";

/// An object: `type:id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    pub object_type: String,
    pub object_id: String,
}

impl ObjectRef {
    pub fn new(object_type: impl Into<String>, object_id: impl Into<String>) -> Self {
        ObjectRef {
            object_type: object_type.into(),
            object_id: object_id.into(),
        }
    }

    /// Parses `type:id`.
    pub fn parse(text: &str) -> Result<Self, RelationshipParseError> {
        let (object_type, object_id) = text
            .split_once(':')
            .ok_or_else(|| RelationshipParseError::new(text, "expected `type:id`"))?;
        check_type(text, object_type)?;
        check_id(text, object_id)?;
        Ok(ObjectRef::new(object_type, object_id))
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}", self.object_type, self.object_id)
    }
}

/// A subject: an object, every object of a type (`type:*`), or a userset (`type:id#relation`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubjectRef {
    pub object: ObjectRef,
    pub relation: Option<String>,
}

impl SubjectRef {
    pub fn object(object_type: impl Into<String>, object_id: impl Into<String>) -> Self {
        SubjectRef {
            object: ObjectRef::new(object_type, object_id),
            relation: None,
        }
    }

    pub fn userset(
        object_type: impl Into<String>,
        object_id: impl Into<String>,
        relation: impl Into<String>,
    ) -> Self {
        SubjectRef {
            object: ObjectRef::new(object_type, object_id),
            relation: Some(relation.into()),
        }
    }

    /// Whether this is `type:*`.
    pub fn is_wildcard(&self) -> bool {
        self.object.object_id == WILDCARD
    }

    /// Parses `type:id`, `type:id#relation`, `type:id#...` or `type:*`.
    pub fn parse(text: &str) -> Result<Self, RelationshipParseError> {
        let (object, relation) = match text.split_once('#') {
            Some((object, "...")) => (object, None),
            Some((object, relation)) => {
                check_name(text, relation, "relation")?;
                (object, Some(relation.to_owned()))
            }
            None => (text, None),
        };
        let object = ObjectRef::parse(object)
            .map_err(|error| RelationshipParseError::new(text, &error.problem))?;
        if object.object_id == WILDCARD && relation.is_some() {
            return Err(RelationshipParseError::new(
                text,
                "a wildcard subject cannot have a relation",
            ));
        }
        Ok(SubjectRef { object, relation })
    }
}

impl fmt::Display for SubjectRef {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.relation {
            Some(relation) => write!(formatter, "{}#{relation}", self.object),
            None => write!(formatter, "{}", self.object),
        }
    }
}

/// A caveat attached to a relationship, with the context fixed at write time.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationshipCaveat {
    pub name: String,
    pub context: Option<CaveatContext>,
}

/// `resource#relation@subject`, optionally caveated and expiring.
#[derive(Debug, Clone, PartialEq)]
pub struct Relationship {
    pub resource: ObjectRef,
    pub relation: String,
    pub subject: SubjectRef,
    pub caveat: Option<RelationshipCaveat>,
    /// Expiry instant, microseconds since the Unix epoch.
    pub expires_at: Option<i64>,
}

impl Relationship {
    pub fn new(resource: ObjectRef, relation: impl Into<String>, subject: SubjectRef) -> Self {
        Relationship {
            resource,
            relation: relation.into(),
            subject,
            caveat: None,
            expires_at: None,
        }
    }

    /// Parses the text form.
    pub fn parse(text: &str) -> Result<Self, RelationshipParseError> {
        let trimmed = text.trim();
        let (resource_part, rest) = trimmed.split_once('#').ok_or_else(|| {
            RelationshipParseError::new(text, "expected `resource#relation@subject`")
        })?;
        let (relation, rest) = rest.split_once('@').ok_or_else(|| {
            RelationshipParseError::new(text, "expected `@subject` after the relation")
        })?;
        check_name(text, relation, "relation")?;
        let resource = ObjectRef::parse(resource_part)
            .map_err(|error| RelationshipParseError::new(text, &error.problem))?;
        let (subject_part, mut suffix) = match rest.find('[') {
            Some(index) => (
                rest.get(..index).unwrap_or(""),
                rest.get(index..).unwrap_or(""),
            ),
            None => (rest, ""),
        };
        let subject = SubjectRef::parse(subject_part)
            .map_err(|error| RelationshipParseError::new(text, &error.problem))?;
        let mut caveat = None;
        let mut expires_at = None;
        while !suffix.is_empty() {
            let body = suffix.strip_prefix('[').ok_or_else(|| {
                RelationshipParseError::new(text, "unexpected text after the subject")
            })?;
            if let Some(timestamp) = body.strip_prefix("expiration:") {
                let end = timestamp.find(']').ok_or_else(|| {
                    RelationshipParseError::new(text, "unterminated `[expiration:...]`")
                })?;
                let value = timestamp.get(..end).unwrap_or("");
                let parsed = chrono::DateTime::parse_from_rfc3339(value).map_err(|_| {
                    RelationshipParseError::new(
                        text,
                        &format!("`{value}` is not an RFC 3339 timestamp"),
                    )
                })?;
                if expires_at.replace(parsed.timestamp_micros()).is_some() {
                    return Err(RelationshipParseError::new(text, "expiration given twice"));
                }
                suffix = timestamp.get(end + 1..).unwrap_or("");
                continue;
            }
            if caveat.is_some() || expires_at.is_some() {
                return Err(RelationshipParseError::new(
                    text,
                    "expected `[expiration:...]` after the caveat",
                ));
            }
            let name_end = body
                .find([':', ']'])
                .ok_or_else(|| RelationshipParseError::new(text, "unterminated caveat `[...`"))?;
            let name = body.get(..name_end).unwrap_or("");
            check_type(text, name)?;
            let after = body.get(name_end..).unwrap_or("");
            let (context, remaining) = if let Some(json) = after.strip_prefix(':') {
                let mut stream =
                    serde_json::Deserializer::from_str(json).into_iter::<CaveatContext>();
                let context = stream
                    .next()
                    .ok_or_else(|| {
                        RelationshipParseError::new(
                            text,
                            "expected a JSON object as caveat context",
                        )
                    })?
                    .map_err(|error| {
                        RelationshipParseError::new(
                            text,
                            &format!("invalid caveat context: {error}"),
                        )
                    })?;
                let consumed = stream.byte_offset();
                (Some(context), json.get(consumed..).unwrap_or(""))
            } else {
                (None, after)
            };
            suffix = remaining.strip_prefix(']').ok_or_else(|| {
                RelationshipParseError::new(text, "expected `]` after the caveat")
            })?;
            caveat = Some(RelationshipCaveat {
                name: name.to_owned(),
                context,
            });
        }
        Ok(Relationship {
            resource,
            relation: relation.to_owned(),
            subject,
            caveat,
            expires_at,
        })
    }
}

impl fmt::Display for Relationship {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}#{}@{}",
            self.resource, self.relation, self.subject
        )?;
        if let Some(caveat) = &self.caveat {
            match &caveat.context {
                Some(context) if !context.is_empty() => {
                    write!(
                        formatter,
                        "[{}:{}]",
                        caveat.name,
                        serde_json::Value::Object(context.clone())
                    )?;
                }
                _ => write!(formatter, "[{}]", caveat.name)?,
            }
        }
        if let Some(expires_at) = self.expires_at {
            let time = chrono::DateTime::from_timestamp_micros(expires_at).unwrap_or_default();
            write!(
                formatter,
                "[expiration:{}]",
                time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            )?;
        }
        Ok(())
    }
}

/// A relationship, object or subject string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid relationship `{input}`: {problem}")]
pub struct RelationshipParseError {
    pub input: String,
    pub problem: String,
}

impl RelationshipParseError {
    fn new(input: &str, problem: &str) -> Self {
        RelationshipParseError {
            input: input.chars().take(300).collect(),
            problem: problem.to_owned(),
        }
    }
}

fn check_type(input: &str, name: &str) -> Result<(), RelationshipParseError> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name.split('/').all(|segment| {
            segment
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase())
                && segment
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        });
    if valid {
        Ok(())
    } else {
        Err(RelationshipParseError::new(
            input,
            &format!("`{name}` is not a valid type name"),
        ))
    }
}

fn check_name(input: &str, name: &str, what: &str) -> Result<(), RelationshipParseError> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(RelationshipParseError::new(
            input,
            &format!("`{name}` is not a valid {what} name"),
        ))
    }
}

/// Object ids: 1 to 1024 bytes of printable characters without whitespace, `#` or `@`
/// (`*` alone means every object).
fn check_id(input: &str, id: &str) -> Result<(), RelationshipParseError> {
    let valid = !id.is_empty()
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '#')
        && (id == WILDCARD || !id.contains('*'));
    if valid {
        Ok(())
    } else {
        Err(RelationshipParseError::new(
            input,
            &format!("`{id}` is not a valid object id"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_text_form() {
        for text in [
            "document:firstdoc#viewer@user:tom",
            "document:firstdoc#viewer@group:eng#member",
            "document:firstdoc#viewer@user:*",
            "document:firstdoc#viewer@user:tom[is_valid_ip:{\"cidr\":\"10.0.0.0/8\"}]",
            "document:firstdoc#viewer@user:tom[somecaveat][expiration:2023-12-01T00:00:00Z]",
            "document:firstdoc#viewer@user:tom[expiration:2300-12-01T00:00:00Z]",
            "org/identity_team/group:a#member@test/user:--=base64YWZz+/==",
            "org:acme#member@user:alice@acme.com",
        ] {
            let parsed = Relationship::parse(text).unwrap();
            assert_eq!(parsed.to_string(), text);
        }
        let ellipsis = Relationship::parse("document:x#writer@user:tom#...").unwrap();
        assert_eq!(ellipsis.subject.relation, None);
        let bracket = Relationship::parse("d:x#v@u:y[c:{\"list\":[1,\"]\"]}]").unwrap();
        assert_eq!(bracket.caveat.unwrap().context.unwrap()["list"][1], "]");
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "",
            "document:x",
            "document:x#viewer",
            "document#viewer@user:tom",
            "Document:x#viewer@user:tom",
            "document:x#Viewer@user:tom",
            "document:#viewer@user:tom",
            "document:x#viewer@user:*#member",
            "document:x#viewer@user:tom[",
            "document:x#viewer@user:tom[c:{]",
            "document:x#viewer@user:tom[expiration:yesterday]",
            "document:x#viewer@user:tom junk",
            "document:a b#viewer@user:tom",
        ] {
            assert!(Relationship::parse(bad).is_err(), "{bad}");
        }
    }
}

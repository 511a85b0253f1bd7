//! The schema as written: definitions, relations, permissions and caveats, with positions.

use std::fmt;

/// A place in the schema text (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "line {}, column {}", self.line, self.column)
    }
}

/// A parsed schema.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SchemaAst {
    pub definitions: Vec<DefinitionAst>,
    pub caveats: Vec<CaveatAst>,
    /// `use expiration` appeared.
    pub uses_expiration: bool,
}

/// `definition name { ... }`
#[derive(Debug, Clone, PartialEq)]
pub struct DefinitionAst {
    pub name: String,
    pub position: Position,
    pub relations: Vec<RelationAst>,
    pub permissions: Vec<PermissionAst>,
}

/// `relation name: type | type:* | type#relation [with caveat [and expiration]]`
#[derive(Debug, Clone, PartialEq)]
pub struct RelationAst {
    pub name: String,
    pub position: Position,
    pub allowed: Vec<AllowedSubjectAst>,
}

/// One alternative of a relation's allowed subjects.
#[derive(Debug, Clone, PartialEq)]
pub struct AllowedSubjectAst {
    pub type_name: String,
    pub position: Position,
    pub kind: AllowedKind,
    pub caveat: Option<String>,
    pub expiration: bool,
}

/// Which subjects of a type a relation admits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedKind {
    /// `user`: objects of the type.
    Object,
    /// `user:*`: every object of the type at once.
    Wildcard,
    /// `group#member`: the subjects of a relation of objects of the type.
    Userset(String),
}

/// `permission name = expression`
#[derive(Debug, Clone, PartialEq)]
pub struct PermissionAst {
    pub name: String,
    pub position: Position,
    pub expression: ExprAst,
}

/// A permission expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprAst {
    Union(Box<ExprAst>, Box<ExprAst>),
    Intersection(Box<ExprAst>, Box<ExprAst>),
    Exclusion(Box<ExprAst>, Box<ExprAst>),
    /// A relation or permission of the same definition.
    Reference {
        name: String,
        position: Position,
    },
    /// `tupleset->target`, `tupleset.any(target)` (`all: false`) or `tupleset.all(target)`.
    Arrow {
        tupleset: String,
        target: String,
        all: bool,
        position: Position,
    },
    Nil,
}

/// `caveat name(param type, ...) { expression }`
#[derive(Debug, Clone, PartialEq)]
pub struct CaveatAst {
    pub name: String,
    pub position: Position,
    pub parameters: Vec<(String, CaveatType)>,
    /// The CEL expression, verbatim.
    pub expression: String,
    pub expression_position: Position,
}

/// The type of a caveat parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaveatType {
    Any,
    Int,
    UInt,
    Bool,
    String,
    Double,
    Bytes,
    Duration,
    Timestamp,
    IpAddress,
    List(Box<CaveatType>),
    Map(Box<CaveatType>),
}

impl fmt::Display for CaveatType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaveatType::Any => formatter.write_str("any"),
            CaveatType::Int => formatter.write_str("int"),
            CaveatType::UInt => formatter.write_str("uint"),
            CaveatType::Bool => formatter.write_str("bool"),
            CaveatType::String => formatter.write_str("string"),
            CaveatType::Double => formatter.write_str("double"),
            CaveatType::Bytes => formatter.write_str("bytes"),
            CaveatType::Duration => formatter.write_str("duration"),
            CaveatType::Timestamp => formatter.write_str("timestamp"),
            CaveatType::IpAddress => formatter.write_str("ipaddress"),
            CaveatType::List(inner) => write!(formatter, "list<{inner}>"),
            CaveatType::Map(inner) => write!(formatter, "map<{inner}>"),
        }
    }
}

impl fmt::Display for ExprAst {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExprAst::Union(left, right) => write!(formatter, "({left} + {right})"),
            ExprAst::Intersection(left, right) => write!(formatter, "({left} & {right})"),
            ExprAst::Exclusion(left, right) => write!(formatter, "({left} - {right})"),
            ExprAst::Reference { name, .. } => formatter.write_str(name),
            ExprAst::Arrow {
                tupleset,
                target,
                all: false,
                ..
            } => write!(formatter, "{tupleset}->{target}"),
            ExprAst::Arrow {
                tupleset, target, ..
            } => write!(formatter, "{tupleset}.all({target})"),
            ExprAst::Nil => formatter.write_str("nil"),
        }
    }
}

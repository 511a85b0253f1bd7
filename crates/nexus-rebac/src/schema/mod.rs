//! Schemas: parsing SpiceDB's schema language and compiling it into a validated type system
//! with interned ids, ready for evaluation.

pub mod ast;
mod parser;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

pub use ast::{CaveatType, Position};
pub use parser::ParseError;

use crate::caveat::CompiledCaveat;

/// Index of a definition (object type) in a [`Schema`].
pub type TypeId = u16;
/// Index of a relation or permission within its definition.
pub type RelationId = u16;
/// Index of a caveat in a [`Schema`].
pub type CaveatId = u16;

/// Why a schema was rejected: a syntax error or a type error, with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("schema syntax error at {0}")]
    Syntax(#[from] ParseError),
    #[error("schema error at {position}: {message}")]
    Invalid { position: Position, message: String },
}

fn invalid<T>(position: Position, message: String) -> Result<T, SchemaError> {
    Err(SchemaError::Invalid { position, message })
}

/// A validated, compiled schema. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Schema {
    inner: Arc<SchemaInner>,
}

#[derive(Debug)]
struct SchemaInner {
    source: String,
    types: Vec<TypeDefinition>,
    type_index: HashMap<String, TypeId>,
    caveats: Vec<CompiledCaveat>,
    caveat_index: HashMap<String, CaveatId>,
    uses_expiration: bool,
}

/// One `definition`.
#[derive(Debug)]
pub struct TypeDefinition {
    pub name: String,
    pub relations: Vec<RelationDefinition>,
    index: HashMap<String, RelationId>,
    /// Bit `r` set when relation `r` (below 64) is stored rather than computed.
    stored_mask: u64,
}

/// A relation or a permission of a definition.
#[derive(Debug)]
pub struct RelationDefinition {
    pub name: String,
    pub body: RelationBody,
}

/// What a relation or permission is made of.
#[derive(Debug)]
pub enum RelationBody {
    /// Stored relationships with these allowed subjects.
    Relation(Vec<AllowedSubject>),
    /// Computed from other relations and permissions.
    Permission(Expr),
}

/// One allowed subject of a relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedSubject {
    pub subject_type: TypeId,
    pub kind: AllowedSubjectKind,
    pub caveat: Option<CaveatId>,
    pub expiration: bool,
}

/// Objects, the wildcard, or a userset of the subject type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowedSubjectKind {
    Object,
    Wildcard,
    Userset(RelationId),
}

/// A compiled permission expression.
#[derive(Debug)]
pub enum Expr {
    Union(Vec<Expr>),
    Intersection(Vec<Expr>),
    Exclusion(Box<Expr>, Box<Expr>),
    /// Another relation or permission of the same object.
    Computed(RelationId),
    /// For each subject of `tupleset`: its `target` relation or permission (resolved per
    /// subject type in `targets`, `None` where that type has no such name). `all`: every
    /// subject must qualify instead of any.
    Arrow {
        tupleset: RelationId,
        target: String,
        targets: Vec<Option<RelationId>>,
        all: bool,
    },
    Nil,
}

impl Schema {
    /// Parses and validates schema text.
    pub fn parse(source: &str) -> Result<Schema, SchemaError> {
        let ast = parser::parse(source)?;
        compile(source, &ast)
    }

    /// The text the schema was compiled from.
    pub fn source(&self) -> &str {
        &self.inner.source
    }

    /// Whether the schema declares `use expiration`.
    pub fn uses_expiration(&self) -> bool {
        self.inner.uses_expiration
    }

    /// The definitions, indexed by [`TypeId`].
    pub fn types(&self) -> &[TypeDefinition] {
        &self.inner.types
    }

    /// The id of a definition by name.
    pub fn type_id(&self, name: &str) -> Option<TypeId> {
        self.inner.type_index.get(name).copied()
    }

    /// A definition by id.
    pub fn type_definition(&self, id: TypeId) -> Option<&TypeDefinition> {
        self.inner.types.get(usize::from(id))
    }

    /// The name of a definition.
    pub fn type_name(&self, id: TypeId) -> &str {
        self.type_definition(id)
            .map_or("?", |definition| definition.name.as_str())
    }

    /// A relation or permission by type and id.
    pub fn relation(&self, type_id: TypeId, relation: RelationId) -> Option<&RelationDefinition> {
        self.type_definition(type_id)?
            .relations
            .get(usize::from(relation))
    }

    /// The name of a relation or permission.
    pub fn relation_name(&self, type_id: TypeId, relation: RelationId) -> &str {
        self.relation(type_id, relation)
            .map_or("?", |definition| definition.name.as_str())
    }

    /// A caveat by id.
    pub fn caveat(&self, id: CaveatId) -> Option<&CompiledCaveat> {
        self.inner.caveats.get(usize::from(id))
    }

    /// The id of a caveat by name.
    pub fn caveat_id(&self, name: &str) -> Option<CaveatId> {
        self.inner.caveat_index.get(name).copied()
    }

    /// Every caveat.
    pub fn caveats(&self) -> &[CompiledCaveat] {
        &self.inner.caveats
    }
}

impl TypeDefinition {
    /// Whether relation `id` is stored (a relation, not a permission); ids of 64 and above
    /// report `false` (callers then take the general path).
    pub(crate) fn is_stored_fast(&self, id: RelationId) -> bool {
        id < 64 && self.stored_mask & (1 << id) != 0
    }

    /// A relation or permission id by name.
    pub fn relation_id(&self, name: &str) -> Option<RelationId> {
        self.index.get(name).copied()
    }
}

impl RelationDefinition {
    /// Whether this is a permission (computed) rather than a relation (stored).
    pub fn is_permission(&self) -> bool {
        matches!(self.body, RelationBody::Permission(_))
    }

    /// The allowed subjects of a relation (empty for a permission).
    pub fn allowed(&self) -> &[AllowedSubject] {
        match &self.body {
            RelationBody::Relation(allowed) => allowed,
            RelationBody::Permission(_) => &[],
        }
    }
}

/// Definition names: lowercase words with `_` and digits, optionally prefixed by
/// `namespace/` segments.
fn valid_type_name(name: &str) -> bool {
    name.len() <= 128 && name.split('/').all(valid_identifier)
}

/// Relation, permission, caveat and parameter names.
fn valid_identifier(name: &str) -> bool {
    let mut characters = name.chars();
    characters.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 64
        && characters.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn to_id(index: usize, what: &str, position: Position) -> Result<u16, SchemaError> {
    u16::try_from(index).or_else(|_| invalid(position, format!("too many {what} (at most 65535)")))
}

#[expect(
    clippy::too_many_lines,
    reason = "one pass per kind of name, in order; splitting would scatter the order"
)]
fn compile(source: &str, ast: &ast::SchemaAst) -> Result<Schema, SchemaError> {
    // Names first, so that definitions may refer to each other in any order.
    let mut type_index = HashMap::new();
    for (index, definition) in ast.definitions.iter().enumerate() {
        if !valid_type_name(&definition.name) {
            return invalid(
                definition.position,
                format!(
                    "invalid definition name `{}`: use lowercase letters, digits and `_`, starting with a letter, optionally prefixed by `namespace/`",
                    definition.name
                ),
            );
        }
        let id = to_id(index, "definitions", definition.position)?;
        if type_index.insert(definition.name.clone(), id).is_some() {
            return invalid(
                definition.position,
                format!("definition `{}` is defined twice", definition.name),
            );
        }
    }
    let mut caveat_index = HashMap::new();
    let mut caveats = Vec::new();
    for (index, caveat) in ast.caveats.iter().enumerate() {
        if !valid_type_name(&caveat.name) {
            return invalid(
                caveat.position,
                format!("invalid caveat name `{}`", caveat.name),
            );
        }
        let id = to_id(index, "caveats", caveat.position)?;
        if caveat_index.insert(caveat.name.clone(), id).is_some() {
            return invalid(
                caveat.position,
                format!("caveat `{}` is defined twice", caveat.name),
            );
        }
        caveats.push(CompiledCaveat::compile(caveat)?);
    }

    // Relation and permission names per definition.
    let mut types: Vec<TypeDefinition> = Vec::with_capacity(ast.definitions.len());
    for definition in &ast.definitions {
        let mut index = HashMap::new();
        let names = definition
            .relations
            .iter()
            .map(|relation| (&relation.name, relation.position))
            .chain(
                definition
                    .permissions
                    .iter()
                    .map(|permission| (&permission.name, permission.position)),
            );
        for (position_in_type, (name, position)) in names.enumerate() {
            if !valid_identifier(name) {
                return invalid(
                    position,
                    format!(
                        "invalid relation or permission name `{name}`: use lowercase letters, digits and `_`, starting with a letter"
                    ),
                );
            }
            let id = to_id(position_in_type, "relations and permissions", position)?;
            if index.insert(name.clone(), id).is_some() {
                return invalid(
                    position,
                    format!(
                        "`{name}` is defined twice in definition `{}`",
                        definition.name
                    ),
                );
            }
        }
        let stored_mask =
            (0..definition.relations.len().min(64)).fold(0_u64, |mask, bit| mask | (1 << bit));
        types.push(TypeDefinition {
            name: definition.name.clone(),
            relations: Vec::new(),
            index,
            stored_mask,
        });
    }

    // Relations: allowed subjects.
    let mut relations_by_type: Vec<Vec<RelationDefinition>> = Vec::with_capacity(types.len());
    for definition in &ast.definitions {
        let mut relations = Vec::new();
        for relation in &definition.relations {
            let mut allowed = Vec::new();
            for subject in &relation.allowed {
                allowed.push(compile_allowed(
                    subject,
                    ast,
                    &type_index,
                    &types,
                    &caveat_index,
                )?);
            }
            relations.push(RelationDefinition {
                name: relation.name.clone(),
                body: RelationBody::Relation(allowed),
            });
        }
        relations_by_type.push(relations);
    }
    // Permissions need every relation's allowed subjects to resolve arrows.
    let mut permissions_by_type = Vec::with_capacity(types.len());
    for (type_position, definition) in ast.definitions.iter().enumerate() {
        let own = types.get(type_position).map(|own| &own.index);
        let relations = relations_by_type
            .get(type_position)
            .map_or(&[][..], Vec::as_slice);
        let mut permissions = Vec::new();
        for permission in &definition.permissions {
            let expression = compile_expr(
                &permission.expression,
                definition,
                own,
                relations,
                &types,
                &permission.name,
            )?;
            permissions.push(RelationDefinition {
                name: permission.name.clone(),
                body: RelationBody::Permission(expression),
            });
        }
        permissions_by_type.push(permissions);
    }
    for ((definition, relations), permissions) in types
        .iter_mut()
        .zip(relations_by_type)
        .zip(permissions_by_type)
    {
        definition.relations = relations;
        definition.relations.extend(permissions);
    }
    for (definition, ast_definition) in types.iter().zip(&ast.definitions) {
        check_permission_cycles(definition, ast_definition)?;
    }
    Ok(Schema {
        inner: Arc::new(SchemaInner {
            source: source.to_owned(),
            types,
            type_index,
            caveats,
            caveat_index,
            uses_expiration: ast.uses_expiration,
        }),
    })
}

fn compile_allowed(
    subject: &ast::AllowedSubjectAst,
    ast: &ast::SchemaAst,
    type_index: &HashMap<String, TypeId>,
    types: &[TypeDefinition],
    caveat_index: &HashMap<String, CaveatId>,
) -> Result<AllowedSubject, SchemaError> {
    let Some(&subject_type) = type_index.get(&subject.type_name) else {
        return invalid(
            subject.position,
            format!("unknown definition `{}`", subject.type_name),
        );
    };
    let kind = match &subject.kind {
        ast::AllowedKind::Object => AllowedSubjectKind::Object,
        ast::AllowedKind::Wildcard => AllowedSubjectKind::Wildcard,
        ast::AllowedKind::Userset(relation) => {
            let target = types
                .get(usize::from(subject_type))
                .and_then(|definition| definition.index.get(relation));
            match target {
                Some(&id) => AllowedSubjectKind::Userset(id),
                None => {
                    return invalid(
                        subject.position,
                        format!(
                            "definition `{}` has no relation or permission `{relation}`",
                            subject.type_name
                        ),
                    );
                }
            }
        }
    };
    let caveat = match &subject.caveat {
        None => None,
        Some(name) => match caveat_index.get(name) {
            Some(&id) => Some(id),
            None => return invalid(subject.position, format!("unknown caveat `{name}`")),
        },
    };
    if subject.expiration && !ast.uses_expiration {
        return invalid(
            subject.position,
            "`with expiration` needs `use expiration` at the top of the schema".to_owned(),
        );
    }
    Ok(AllowedSubject {
        subject_type,
        kind,
        caveat,
        expiration: subject.expiration,
    })
}

fn compile_expr(
    expression: &ast::ExprAst,
    definition: &ast::DefinitionAst,
    own: Option<&HashMap<String, RelationId>>,
    relations: &[RelationDefinition],
    types: &[TypeDefinition],
    permission: &str,
) -> Result<Expr, SchemaError> {
    let recurse =
        |inner: &ast::ExprAst| compile_expr(inner, definition, own, relations, types, permission);
    Ok(match expression {
        ast::ExprAst::Nil => Expr::Nil,
        ast::ExprAst::Union(left, right) => flatten(recurse(left)?, recurse(right)?, true),
        ast::ExprAst::Intersection(left, right) => flatten(recurse(left)?, recurse(right)?, false),
        ast::ExprAst::Exclusion(left, right) => {
            Expr::Exclusion(Box::new(recurse(left)?), Box::new(recurse(right)?))
        }
        ast::ExprAst::Reference { name, position } => match own.and_then(|index| index.get(name)) {
            Some(&id) => Expr::Computed(id),
            None => {
                return invalid(
                    *position,
                    format!(
                        "permission `{permission}` refers to `{name}`, which definition `{}` does not have",
                        definition.name
                    ),
                );
            }
        },
        ast::ExprAst::Arrow {
            tupleset,
            target,
            all,
            position,
        } => {
            let Some(&tupleset_id) = own.and_then(|index| index.get(tupleset)) else {
                return invalid(
                    *position,
                    format!(
                        "arrow in permission `{permission}` starts at `{tupleset}`, which definition `{}` does not have",
                        definition.name
                    ),
                );
            };
            let Some(tupleset_relation) = relations.get(usize::from(tupleset_id)) else {
                return invalid(
                    *position,
                    format!(
                        "arrow in permission `{permission}` starts at permission `{tupleset}`: arrows must start at a relation"
                    ),
                );
            };
            let allowed = tupleset_relation.allowed();
            if allowed
                .iter()
                .any(|subject| subject.kind == AllowedSubjectKind::Wildcard)
            {
                return invalid(
                    *position,
                    format!(
                        "arrow in permission `{permission}` starts at `{tupleset}`, which allows wildcards: arrows cannot follow a wildcard"
                    ),
                );
            }
            let mut targets = vec![None; types.len()];
            for subject in allowed {
                let resolved = types
                    .get(usize::from(subject.subject_type))
                    .and_then(|subject_type| subject_type.index.get(target).copied());
                if let Some(slot) = targets.get_mut(usize::from(subject.subject_type)) {
                    *slot = resolved;
                }
            }
            if targets.iter().all(Option::is_none) {
                return invalid(
                    *position,
                    format!(
                        "arrow `{tupleset}->{target}` in permission `{permission}`: no subject type of `{tupleset}` has `{target}`"
                    ),
                );
            }
            Expr::Arrow {
                tupleset: tupleset_id,
                target: target.clone(),
                targets,
                all: *all,
            }
        }
    })
}

/// Joins two operands of `+` (`union`) or `&`, merging nested operations of the same kind.
fn flatten(left: Expr, right: Expr, union: bool) -> Expr {
    let mut operands = Vec::new();
    for operand in [left, right] {
        match (operand, union) {
            (Expr::Union(inner), true) | (Expr::Intersection(inner), false) => {
                operands.extend(inner);
            }
            (other, _) => operands.push(other),
        }
    }
    if union {
        Expr::Union(operands)
    } else {
        Expr::Intersection(operands)
    }
}

/// A permission may not depend on itself except through an arrow (which moves to another
/// object): `permission a = b` with `permission b = a` has no meaning.
fn check_permission_cycles(
    definition: &TypeDefinition,
    ast: &ast::DefinitionAst,
) -> Result<(), SchemaError> {
    fn references(expression: &Expr, out: &mut Vec<RelationId>) {
        match expression {
            Expr::Union(operands) | Expr::Intersection(operands) => {
                for operand in operands {
                    references(operand, out);
                }
            }
            Expr::Exclusion(left, right) => {
                references(left, out);
                references(right, out);
            }
            Expr::Computed(id) => out.push(*id),
            Expr::Arrow { .. } | Expr::Nil => {}
        }
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        definition: &TypeDefinition,
        id: RelationId,
        marks: &mut [Mark],
        path: &mut Vec<RelationId>,
    ) -> Option<Vec<RelationId>> {
        let slot = usize::from(id);
        match marks.get(slot).copied() {
            Some(Mark::Done) | None => return None,
            Some(Mark::Active) => {
                let start = path.iter().position(|entry| *entry == id).unwrap_or(0);
                let mut cycle = path.get(start..).unwrap_or(&[]).to_vec();
                cycle.push(id);
                return Some(cycle);
            }
            Some(Mark::New) => {}
        }
        if let Some(mark) = marks.get_mut(slot) {
            *mark = Mark::Active;
        }
        path.push(id);
        if let Some(RelationBody::Permission(expression)) =
            definition.relations.get(slot).map(|r| &r.body)
        {
            let mut next = Vec::new();
            references(expression, &mut next);
            for target in next {
                if let Some(cycle) = visit(definition, target, marks, path) {
                    return Some(cycle);
                }
            }
        }
        path.pop();
        if let Some(mark) = marks.get_mut(slot) {
            *mark = Mark::Done;
        }
        None
    }
    let mut marks = vec![Mark::New; definition.relations.len()];
    for id in 0..definition.relations.len() {
        let id = u16::try_from(id).unwrap_or(u16::MAX);
        if let Some(cycle) = visit(definition, id, &mut marks, &mut Vec::new()) {
            let names: Vec<&str> = cycle
                .iter()
                .filter_map(|id| {
                    definition
                        .relations
                        .get(usize::from(*id))
                        .map(|r| r.name.as_str())
                })
                .collect();
            let first = names.first().copied().unwrap_or("?");
            let position = ast
                .permissions
                .iter()
                .find(|permission| permission.name == first)
                .map_or(ast.position, |permission| permission.position);
            return invalid(
                position,
                format!(
                    "permission `{first}` of definition `{}` depends on itself: {}",
                    definition.name,
                    names.join(" -> ")
                ),
            );
        }
    }
    Ok(())
}

impl fmt::Display for Schema {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.source())
    }
}

//! Parser for SpiceDB's schema language.
//!
//! ```text
//! schema     := item*
//! item       := "definition" path "{" member* "}"
//!             | "caveat" path "(" param ("," param)* ")" "{" CEL "}"
//!             | "use" "expiration"
//! member     := "relation" name ":" allowed ("|" allowed)*
//!             | "permission" name "=" expr
//! allowed    := path (":" "*" | "#" name)? ("with" (path ("and" "expiration")? | "expiration"))?
//! expr       := inter ("-" inter)*          (loosest, left-associative)
//! inter      := union ("&" union)*
//! union      := term ("+" term)*            (tightest)
//! term       := "(" expr ")" | "nil" | name ("->" name | "." ("any" | "all") "(" name ")")?
//! path       := name ("/" name)*
//! ```
//!
//! Newlines and `;` separate statements but are not required: every statement starts with a
//! keyword, so the parser knows where one ends. Comments are `// ...` and `/* ... */`.

use super::ast::{
    AllowedKind, AllowedSubjectAst, CaveatAst, CaveatType, DefinitionAst, ExprAst, PermissionAst,
    Position, RelationAst, SchemaAst,
};

/// A syntax error, with where it happened and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{position}: {message}")]
pub struct ParseError {
    pub position: Position,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Symbol(&'static str),
    Eof,
    Invalid(char),
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Name(name) => format!("`{name}`"),
            Token::Symbol(symbol) => format!("`{symbol}`"),
            Token::Eof => "the end of the schema".to_owned(),
            Token::Invalid(character) => {
                format!("unexpected character `{}`", character.escape_debug())
            }
        }
    }
}

const SYMBOLS: [&str; 20] = [
    "->", "...", "{", "}", "(", ")", ":", "|", "#", "=", "+", "-", "&", ",", ".", "*", "/", ";",
    "<", ">",
];

struct Lexer<'a> {
    source: &'a str,
    offset: usize,
    line: u32,
    column: u32,
}

impl<'a> Lexer<'a> {
    fn new(source: &'a str) -> Self {
        Lexer {
            source,
            offset: 0,
            line: 1,
            column: 1,
        }
    }

    fn rest(&self) -> &'a str {
        self.source.get(self.offset..).unwrap_or("")
    }

    fn position(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }

    fn advance(&mut self, bytes: usize) {
        let consumed = self.rest().get(..bytes).unwrap_or("");
        for character in consumed.chars() {
            if character == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
        self.offset += consumed.len();
    }

    /// Skips whitespace and comments; an unterminated block comment is an error.
    fn skip_trivia(&mut self) -> Result<(), ParseError> {
        loop {
            let rest = self.rest();
            if let Some(character) = rest.chars().next().filter(|c| c.is_whitespace()) {
                self.advance(character.len_utf8());
            } else if rest.starts_with("//") {
                let end = rest.find('\n').unwrap_or(rest.len());
                self.advance(end);
            } else if rest.starts_with("/*") {
                let start = self.position();
                let Some(end) = rest.get(2..).and_then(|body| body.find("*/")) else {
                    return Err(ParseError {
                        position: start,
                        message: "unterminated comment: `/*` without `*/`".to_owned(),
                    });
                };
                self.advance(end + 4);
            } else {
                return Ok(());
            }
        }
    }

    fn next(&mut self) -> Result<(Token, Position), ParseError> {
        self.skip_trivia()?;
        let position = self.position();
        let rest = self.rest();
        let Some(first) = rest.chars().next() else {
            return Ok((Token::Eof, position));
        };
        if first.is_ascii_alphabetic() || first == '_' {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let name = rest.get(..end).unwrap_or("").to_owned();
            self.advance(end);
            return Ok((Token::Name(name), position));
        }
        if let Some(symbol) = SYMBOLS.iter().find(|symbol| rest.starts_with(**symbol)) {
            self.advance(symbol.len());
            return Ok((Token::Symbol(symbol), position));
        }
        self.advance(first.len_utf8());
        Ok((Token::Invalid(first), position))
    }

    /// The raw text up to the `}` that closes a block whose `{` was just read, skipping
    /// braces inside string literals; consumes the closing brace.
    fn raw_block(&mut self, opened: Position) -> Result<(String, Position), ParseError> {
        let start = self.offset;
        let body_position = self.position();
        let mut depth = 1_u32;
        let mut quote: Option<char> = None;
        let mut escaped = false;
        for (index, character) in self.rest().char_indices() {
            match quote {
                Some(open) => {
                    if escaped {
                        escaped = false;
                    } else if character == '\\' {
                        escaped = true;
                    } else if character == open {
                        quote = None;
                    }
                }
                None => match character {
                    '"' | '\'' => quote = Some(character),
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            let text = self
                                .source
                                .get(start..start + index)
                                .unwrap_or("")
                                .to_owned();
                            self.advance(index + 1);
                            return Ok((text, body_position));
                        }
                    }
                    _ => {}
                },
            }
        }
        Err(ParseError {
            position: opened,
            message: "unterminated caveat body: `{` without matching `}`".to_owned(),
        })
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    token: Token,
    position: Position,
}

/// Parses schema text.
pub fn parse(source: &str) -> Result<SchemaAst, ParseError> {
    let mut lexer = Lexer::new(source);
    let (token, position) = lexer.next()?;
    let mut parser = Parser {
        lexer,
        token,
        position,
    };
    parser.schema()
}

fn is_keyword(name: &str) -> bool {
    matches!(
        name,
        "definition"
            | "caveat"
            | "relation"
            | "permission"
            | "nil"
            | "use"
            | "with"
            | "and"
            | "import"
            | "partial"
    )
}

impl Parser<'_> {
    fn bump(&mut self) -> Result<(), ParseError> {
        let (token, position) = self.lexer.next()?;
        self.token = token;
        self.position = position;
        Ok(())
    }

    fn error<T>(&self, expected: &str) -> Result<T, ParseError> {
        Err(ParseError {
            position: self.position,
            message: format!("expected {expected}, found {}", self.token.describe()),
        })
    }

    fn at_symbol(&self, symbol: &str) -> bool {
        matches!(&self.token, Token::Symbol(found) if *found == symbol)
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        matches!(&self.token, Token::Name(name) if name == keyword)
    }

    fn eat_symbol(&mut self, symbol: &str) -> Result<bool, ParseError> {
        if self.at_symbol(symbol) {
            self.bump()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn expect_symbol(&mut self, symbol: &str, context: &str) -> Result<(), ParseError> {
        if self.eat_symbol(symbol)? {
            Ok(())
        } else {
            self.error(&format!("`{symbol}` {context}"))
        }
    }

    /// A name that is not a keyword.
    fn name(&mut self, what: &str) -> Result<(String, Position), ParseError> {
        match &self.token {
            Token::Name(name) if !is_keyword(name) => {
                let found = (name.clone(), self.position);
                self.bump()?;
                Ok(found)
            }
            Token::Name(name) => Err(ParseError {
                position: self.position,
                message: format!("expected {what}, found the keyword `{name}`"),
            }),
            _ => self.error(what),
        }
    }

    /// `name ("/" name)*`
    fn path(&mut self, what: &str) -> Result<(String, Position), ParseError> {
        let (mut path, position) = self.name(what)?;
        while self.eat_symbol("/")? {
            let (segment, _) = self.name(&format!("a name after `/` in {what}"))?;
            path.push('/');
            path.push_str(&segment);
        }
        Ok((path, position))
    }

    fn schema(&mut self) -> Result<SchemaAst, ParseError> {
        let mut schema = SchemaAst::default();
        loop {
            match &self.token {
                Token::Eof => return Ok(schema),
                Token::Symbol(";") => self.bump()?,
                Token::Name(keyword) if keyword == "definition" => {
                    schema.definitions.push(self.definition()?);
                }
                Token::Name(keyword) if keyword == "caveat" => schema.caveats.push(self.caveat()?),
                Token::Name(keyword) if keyword == "use" => {
                    self.bump()?;
                    let (feature, position) = self.name("a feature name after `use`")?;
                    if feature != "expiration" {
                        return Err(ParseError {
                            position,
                            message: format!(
                                "unknown feature `{feature}`: only `use expiration` is supported"
                            ),
                        });
                    }
                    schema.uses_expiration = true;
                }
                _ => return self.error("`definition`, `caveat` or `use`"),
            }
        }
    }

    fn definition(&mut self) -> Result<DefinitionAst, ParseError> {
        self.bump()?;
        let (name, position) = self.path("a definition name")?;
        self.expect_symbol("{", &format!("to open definition `{name}`"))?;
        let mut definition = DefinitionAst {
            name,
            position,
            relations: Vec::new(),
            permissions: Vec::new(),
        };
        loop {
            match &self.token {
                Token::Symbol("}") => {
                    self.bump()?;
                    return Ok(definition);
                }
                Token::Symbol(";") => self.bump()?,
                Token::Name(keyword) if keyword == "relation" => {
                    definition.relations.push(self.relation()?);
                }
                Token::Name(keyword) if keyword == "permission" => {
                    definition.permissions.push(self.permission()?);
                }
                _ => {
                    return self.error(&format!(
                        "`relation`, `permission` or `}}` in definition `{}`",
                        definition.name
                    ));
                }
            }
        }
    }

    fn relation(&mut self) -> Result<RelationAst, ParseError> {
        self.bump()?;
        let (name, position) = self.name("a relation name")?;
        self.expect_symbol(":", &format!("after relation name `{name}`"))?;
        let mut allowed = vec![self.allowed_subject()?];
        while self.eat_symbol("|")? {
            allowed.push(self.allowed_subject()?);
        }
        Ok(RelationAst {
            name,
            position,
            allowed,
        })
    }

    fn allowed_subject(&mut self) -> Result<AllowedSubjectAst, ParseError> {
        let (type_name, position) = self.path("a subject type")?;
        let kind = if self.eat_symbol(":")? {
            self.expect_symbol(
                "*",
                &format!("after `{type_name}:` (only `{type_name}:*` is allowed)"),
            )?;
            AllowedKind::Wildcard
        } else if self.eat_symbol("#")? {
            if self.eat_symbol("...")? {
                AllowedKind::Object
            } else {
                let (relation, _) = self.name(&format!("a relation name after `{type_name}#`"))?;
                AllowedKind::Userset(relation)
            }
        } else {
            AllowedKind::Object
        };
        let mut caveat = None;
        let mut expiration = false;
        if self.at_keyword("with") {
            self.bump()?;
            if self.at_keyword("expiration") {
                self.bump()?;
                expiration = true;
            } else {
                let (name, _) = self.path("a caveat name or `expiration` after `with`")?;
                caveat = Some(name);
                if self.at_keyword("and") {
                    self.bump()?;
                    if !self.at_keyword("expiration") {
                        return self.error("`expiration` after `and`");
                    }
                    self.bump()?;
                    expiration = true;
                }
            }
        }
        Ok(AllowedSubjectAst {
            type_name,
            position,
            kind,
            caveat,
            expiration,
        })
    }

    fn permission(&mut self) -> Result<PermissionAst, ParseError> {
        self.bump()?;
        let (name, position) = self.name("a permission name")?;
        self.expect_symbol("=", &format!("after permission name `{name}`"))?;
        let expression = self.expression(0)?;
        Ok(PermissionAst {
            name,
            position,
            expression,
        })
    }

    /// Binary operators from loosest to tightest.
    const OPERATORS: [&'static str; 3] = ["-", "&", "+"];

    fn expression(&mut self, level: usize) -> Result<ExprAst, ParseError> {
        let Some(operator) = Self::OPERATORS.get(level).copied() else {
            return self.term();
        };
        let mut left = self.expression(level + 1)?;
        while self.eat_symbol(operator)? {
            let right = self.expression(level + 1)?;
            left = match operator {
                "-" => ExprAst::Exclusion(Box::new(left), Box::new(right)),
                "&" => ExprAst::Intersection(Box::new(left), Box::new(right)),
                _ => ExprAst::Union(Box::new(left), Box::new(right)),
            };
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<ExprAst, ParseError> {
        if self.eat_symbol("(")? {
            let inner = self.expression(0)?;
            self.expect_symbol(")", "to close `(`")?;
            return Ok(inner);
        }
        if self.at_keyword("nil") {
            self.bump()?;
            return Ok(ExprAst::Nil);
        }
        let (name, position) = self.name("a relation, permission, `nil` or `(`")?;
        let arrow = if self.eat_symbol("->")? {
            let (target, _) =
                self.name(&format!("a relation or permission name after `{name}->`"))?;
            Some((target, false))
        } else if self.eat_symbol(".")? {
            let (function, function_position) = match &self.token {
                Token::Name(function) => (function.clone(), self.position),
                _ => return self.error(&format!("`any` or `all` after `{name}.`")),
            };
            if function != "any" && function != "all" {
                return Err(ParseError {
                    position: function_position,
                    message: format!("unknown arrow function `{function}`: use `any` or `all`"),
                });
            }
            self.bump()?;
            self.expect_symbol("(", &format!("after `{name}.{function}`"))?;
            let (target, _) = self.name("a relation or permission name")?;
            self.expect_symbol(")", &format!("to close `{name}.{function}(`"))?;
            Some((target, function == "all"))
        } else {
            None
        };
        match arrow {
            None => Ok(ExprAst::Reference { name, position }),
            Some((target, all)) => {
                if self.at_symbol("->") || self.at_symbol(".") {
                    return Err(ParseError {
                        position: self.position,
                        message: "arrows cannot be chained: point the arrow at a permission that follows the next arrow".to_owned(),
                    });
                }
                Ok(ExprAst::Arrow {
                    tupleset: name,
                    target,
                    all,
                    position,
                })
            }
        }
    }

    fn caveat(&mut self) -> Result<CaveatAst, ParseError> {
        self.bump()?;
        let (name, position) = self.path("a caveat name")?;
        self.expect_symbol("(", &format!("to open the parameters of caveat `{name}`"))?;
        let mut parameters = Vec::new();
        loop {
            let (parameter, _) = self.name("a parameter name")?;
            let parameter_type = self.caveat_type()?;
            parameters.push((parameter, parameter_type));
            if !self.eat_symbol(",")? {
                break;
            }
        }
        self.expect_symbol(")", &format!("to close the parameters of caveat `{name}`"))?;
        if !self.at_symbol("{") {
            return self.error(&format!("`{{` to open the expression of caveat `{name}`"));
        }
        let opened = self.position;
        let (expression, expression_position) = self.lexer.raw_block(opened)?;
        if expression.trim().is_empty() {
            return Err(ParseError {
                position: opened,
                message: format!("caveat `{name}` has an empty expression"),
            });
        }
        self.bump()?;
        Ok(CaveatAst {
            name,
            position,
            parameters,
            expression,
            expression_position,
        })
    }

    fn caveat_type(&mut self) -> Result<CaveatType, ParseError> {
        let position = self.position;
        let Token::Name(name) = &self.token else {
            return self.error("a parameter type");
        };
        let name = name.clone();
        self.bump()?;
        let simple = match name.as_str() {
            "any" => Some(CaveatType::Any),
            "int" => Some(CaveatType::Int),
            "uint" => Some(CaveatType::UInt),
            "bool" => Some(CaveatType::Bool),
            "string" => Some(CaveatType::String),
            "double" => Some(CaveatType::Double),
            "bytes" => Some(CaveatType::Bytes),
            "duration" => Some(CaveatType::Duration),
            "timestamp" => Some(CaveatType::Timestamp),
            "ipaddress" => Some(CaveatType::IpAddress),
            _ => None,
        };
        if let Some(simple) = simple {
            return Ok(simple);
        }
        if name == "list" || name == "map" {
            self.expect_symbol("<", &format!("after `{name}`"))?;
            let inner = self.caveat_type()?;
            self.expect_symbol(">", &format!("to close `{name}<`"))?;
            return Ok(if name == "list" {
                CaveatType::List(Box::new(inner))
            } else {
                CaveatType::Map(Box::new(inner))
            });
        }
        Err(ParseError {
            position,
            message: format!(
                "unknown parameter type `{name}`: use int, uint, bool, string, double, bytes, duration, timestamp, ipaddress, any, list<T> or map<T>"
            ),
        })
    }
}

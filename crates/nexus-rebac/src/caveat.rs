//! Caveats: CEL conditions on relationships, evaluated with the `cel` crate.
//!
//! A caveat's context comes from two places: the relationship (written with it) and the
//! request (given at check time); the relationship's values win on a conflict, so a
//! requester cannot override what the writer fixed. Values are converted to the declared
//! parameter types (`timestamp` from RFC 3339 text, `duration` from text like `1h30m`,
//! `ipaddress` from text, numbers to `int`/`uint`/`double`). When parameters are missing the
//! expression is still evaluated: if the present values decide it (`true || x`), that is the
//! answer; otherwise the result is [`CaveatOutcome::Missing`] with the parameters needed.

use std::net::IpAddr;
use std::sync::{Arc, LazyLock};

use cel::extractors::This;
use cel::{Context, ExecutionError, Program, Value};
use serde_json::{Map, Value as Json};

use crate::schema::SchemaError;
use crate::schema::ast::{CaveatAst, CaveatType};

/// A caveat's context: parameter name to JSON value.
pub type CaveatContext = Map<String, Json>;

/// The result of evaluating a caveat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaveatOutcome {
    True,
    False,
    /// Undecided: these parameters are needed.
    Missing(Vec<String>),
}

/// A caveat could not be evaluated (wrong value types, an expression error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("caveat `{caveat}`: {message}")]
pub struct CaveatError {
    pub caveat: String,
    pub message: String,
}

/// A validated caveat definition.
pub struct CompiledCaveat {
    pub name: String,
    pub parameters: Vec<(String, CaveatType)>,
    pub expression: String,
    program: Program,
    /// Parameters the expression refers to.
    referenced: Vec<String>,
}

impl std::fmt::Debug for CompiledCaveat {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CompiledCaveat")
            .field("name", &self.name)
            .field("parameters", &self.parameters)
            .field("expression", &self.expression)
            .finish_non_exhaustive()
    }
}

static ENV: LazyLock<Arc<cel::Env>> = LazyLock::new(|| Arc::new(cel::Env::stdlib()));

impl CompiledCaveat {
    pub(crate) fn compile(ast: &CaveatAst) -> Result<CompiledCaveat, SchemaError> {
        let mut seen = std::collections::HashSet::new();
        for (parameter, _) in &ast.parameters {
            if !seen.insert(parameter) {
                return Err(SchemaError::Invalid {
                    position: ast.position,
                    message: format!(
                        "caveat `{}` declares parameter `{parameter}` twice",
                        ast.name
                    ),
                });
            }
        }
        let program =
            Program::compile(ast.expression.trim()).map_err(|errors| SchemaError::Invalid {
                position: ast.expression_position,
                message: format!("invalid expression in caveat `{}`: {errors}", ast.name),
            })?;
        let references = program.references();
        let referenced = ast
            .parameters
            .iter()
            .map(|(name, _)| name.clone())
            .filter(|name| references.has_variable(name))
            .collect();
        Ok(CompiledCaveat {
            name: ast.name.clone(),
            parameters: ast.parameters.clone(),
            expression: ast.expression.trim().to_owned(),
            program,
            referenced,
        })
    }

    /// Checks that a relationship's stored context only names declared parameters with values
    /// of their types.
    pub fn validate_context(&self, context: &CaveatContext) -> Result<(), CaveatError> {
        for (key, value) in context {
            let Some((_, declared)) = self.parameters.iter().find(|(name, _)| name == key) else {
                return Err(self.error(format!("unknown parameter `{key}`")));
            };
            convert(value, declared)
                .map_err(|message| self.error(format!("parameter `{key}`: {message}")))?;
        }
        Ok(())
    }

    fn error(&self, message: String) -> CaveatError {
        CaveatError {
            caveat: self.name.clone(),
            message,
        }
    }

    /// Evaluates the caveat with the relationship's context (which wins) and the request's.
    pub fn evaluate(
        &self,
        stored: Option<&CaveatContext>,
        request: Option<&CaveatContext>,
    ) -> Result<CaveatOutcome, CaveatError> {
        let mut context = Context::with_env(ENV.clone());
        add_functions(&mut context).map_err(|error| self.error(error.to_string()))?;
        let mut missing = Vec::new();
        for (name, declared) in &self.parameters {
            let value = stored
                .and_then(|stored| stored.get(name))
                .or_else(|| request.and_then(|request| request.get(name)));
            match value {
                Some(value) => {
                    let converted = convert(value, declared)
                        .map_err(|message| self.error(format!("parameter `{name}`: {message}")))?;
                    context.add_variable_from_value(name.as_str(), converted);
                }
                None if self.referenced.contains(name) => missing.push(name.clone()),
                None => {}
            }
        }
        match self.program.execute(&context) {
            Ok(Value::Bool(true)) => Ok(CaveatOutcome::True),
            Ok(Value::Bool(false)) => Ok(CaveatOutcome::False),
            Ok(other) => {
                Err(self.error(format!("the expression produced {other:?}, not a boolean")))
            }
            Err(_) if !missing.is_empty() => Ok(CaveatOutcome::Missing(missing)),
            Err(error) => Err(self.error(error.to_string())),
        }
    }
}

fn add_functions(context: &mut Context<'_, '_>) -> Result<(), cel::DeclarationError> {
    context.add_function(
        "in_cidr",
        |This(address): This<Arc<String>>, cidr: Arc<String>| -> Result<bool, ExecutionError> {
            in_cidr(&address, &cidr)
                .map_err(|error| ExecutionError::function_error("in_cidr", error.to_string()))
        },
    )
}

/// Why a context value does not fit its parameter, or an `in_cidr` argument is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum ValueError {
    #[error("expected a value of type {expected}, got `{got}`")]
    Mismatch { expected: String, got: String },
    #[error("`{0}` is not an RFC 3339 timestamp")]
    Timestamp(String),
    #[error("`{0}` is not a duration such as `1h30m` or `90s`")]
    Duration(String),
    #[error("`{0}` is not an IP address")]
    IpAddress(String),
    #[error("`{0}` is not a CIDR range")]
    Cidr(String),
    #[error("`{0}` has an invalid prefix length")]
    PrefixLength(String),
}

/// Whether `address` lies in the network `cidr` (`10.0.0.0/8`, `2001:db8::/32`).
fn in_cidr(address: &str, cidr: &str) -> Result<bool, ValueError> {
    let address: IpAddr = address
        .parse()
        .map_err(|_| ValueError::IpAddress(address.to_owned()))?;
    let not_cidr = || ValueError::Cidr(cidr.to_owned());
    let (network, prefix) = cidr.split_once('/').ok_or_else(not_cidr)?;
    let network: IpAddr = network.parse().map_err(|_| not_cidr())?;
    let prefix: u32 = prefix.parse().map_err(|_| not_cidr())?;
    match (address, network) {
        (IpAddr::V4(address), IpAddr::V4(network)) if prefix <= 32 => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            Ok(u32::from(address) & mask == u32::from(network) & mask)
        }
        (IpAddr::V6(address), IpAddr::V6(network)) if prefix <= 128 => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            Ok(u128::from(address) & mask == u128::from(network) & mask)
        }
        (IpAddr::V4(_), IpAddr::V6(_)) | (IpAddr::V6(_), IpAddr::V4(_)) => Ok(false),
        _ => Err(ValueError::PrefixLength(cidr.to_owned())),
    }
}

/// Converts a JSON context value to the CEL value of a declared parameter type.
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "integral floats are range-checked before the conversion"
)]
fn convert(value: &Json, declared: &CaveatType) -> Result<Value, ValueError> {
    let mismatch = || ValueError::Mismatch {
        expected: declared.to_string(),
        got: value.to_string(),
    };
    match declared {
        CaveatType::Any => Ok(natural(value)),
        CaveatType::Bool => value.as_bool().map(Value::Bool).ok_or_else(mismatch),
        CaveatType::String => value.as_str().map(Value::from).ok_or_else(mismatch),
        CaveatType::Int => match value {
            Json::Number(number) => number
                .as_i64()
                .or_else(|| {
                    number
                        .as_f64()
                        .filter(|float| float.fract() == 0.0 && float.abs() < 9.0e18)
                        .map(|float| float as i64)
                })
                .map(Value::Int)
                .ok_or_else(mismatch),
            _ => Err(mismatch()),
        },
        CaveatType::UInt => match value {
            Json::Number(number) => number
                .as_u64()
                .or_else(|| {
                    number
                        .as_f64()
                        .filter(|float| float.fract() == 0.0 && *float >= 0.0 && *float < 1.8e19)
                        .map(|float| float as u64)
                })
                .map(Value::UInt)
                .ok_or_else(mismatch),
            _ => Err(mismatch()),
        },
        CaveatType::Double => value.as_f64().map(Value::Float).ok_or_else(mismatch),
        CaveatType::Bytes => value
            .as_str()
            .map(|text| Value::Bytes(Arc::new(text.as_bytes().to_vec())))
            .ok_or_else(mismatch),
        CaveatType::Timestamp => {
            let text = value.as_str().ok_or_else(mismatch)?;
            chrono::DateTime::parse_from_rfc3339(text)
                .map(Value::Timestamp)
                .map_err(|_| ValueError::Timestamp(text.to_owned()))
        }
        CaveatType::Duration => {
            let text = value.as_str().ok_or_else(mismatch)?;
            parse_duration(text)
                .map(Value::Duration)
                .ok_or_else(|| ValueError::Duration(text.to_owned()))
        }
        CaveatType::IpAddress => {
            let text = value.as_str().ok_or_else(mismatch)?;
            let address: IpAddr = text
                .parse()
                .map_err(|_| ValueError::IpAddress(text.to_owned()))?;
            Ok(Value::from(address.to_string()))
        }
        CaveatType::List(inner) => {
            let items = value.as_array().ok_or_else(mismatch)?;
            let converted = items
                .iter()
                .map(|item| convert(item, inner))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::List(Arc::new(converted)))
        }
        CaveatType::Map(inner) => {
            let entries = value.as_object().ok_or_else(mismatch)?;
            let mut map = std::collections::HashMap::new();
            for (key, item) in entries {
                map.insert(key.clone(), convert(item, inner)?);
            }
            Ok(Value::from(map))
        }
    }
}

/// JSON as CEL without a declared type: integral numbers become `int`.
fn natural(value: &Json) -> Value {
    match value {
        Json::Null => Value::Null,
        Json::Bool(flag) => Value::Bool(*flag),
        Json::Number(number) => match number.as_i64() {
            Some(integer) => Value::Int(integer),
            None => number.as_u64().map_or_else(
                || Value::Float(number.as_f64().unwrap_or(f64::NAN)),
                Value::UInt,
            ),
        },
        Json::String(text) => Value::from(text.as_str()),
        Json::Array(items) => Value::List(Arc::new(items.iter().map(natural).collect())),
        Json::Object(entries) => {
            let map: std::collections::HashMap<String, Value> = entries
                .iter()
                .map(|(key, item)| (key.clone(), natural(item)))
                .collect();
            Value::from(map)
        }
    }
}

/// Go-style durations: a sequence of decimal numbers with units `ns`, `us`, `ms`, `s`, `m`,
/// `h` (`1h30m`, `1.5s`, `-2m`).
#[expect(
    clippy::cast_possible_truncation,
    reason = "the total is range-checked before the conversion"
)]
fn parse_duration(text: &str) -> Option<chrono::Duration> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Some(chrono::Duration::zero());
    }
    let mut total_nanos: f64 = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let number: f64 = rest.get(..number_end)?.parse().ok()?;
        rest = rest.get(number_end..)?;
        let (unit, scale) = [
            ("ns", 1.0),
            ("us", 1e3),
            ("µs", 1e3),
            ("ms", 1e6),
            ("s", 1e9),
            ("m", 60e9),
            ("h", 3600e9),
        ]
        .into_iter()
        .filter(|(unit, _)| rest.starts_with(unit))
        .max_by_key(|(unit, _)| unit.len())?;
        rest = rest.get(unit.len()..)?;
        total_nanos += number * scale;
    }
    if !total_nanos.is_finite() || total_nanos > 9.2e18 {
        return None;
    }
    let nanos = total_nanos.round() as i64;
    Some(chrono::Duration::nanoseconds(if negative {
        -nanos
    } else {
        nanos
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caveat(source: &str) -> CompiledCaveat {
        let schema = crate::schema::Schema::parse(source).unwrap();
        let id = schema.caveats().first().map(|c| c.name.clone()).unwrap();
        let ast = crate::schema::ast::CaveatAst {
            name: id,
            position: crate::schema::Position::default(),
            parameters: schema.caveats()[0].parameters.clone(),
            expression: schema.caveats()[0].expression.clone(),
            expression_position: crate::schema::Position::default(),
        };
        CompiledCaveat::compile(&ast).unwrap()
    }

    fn context(json: &str) -> CaveatContext {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn evaluates_with_merged_context() {
        let ip =
            caveat("caveat is_valid_ip(user_ip ipaddress, cidr string) { user_ip.in_cidr(cidr) }");
        let stored = context(r#"{"cidr": "10.0.0.0/8"}"#);
        assert_eq!(
            ip.evaluate(Some(&stored), Some(&context(r#"{"user_ip": "10.2.3.4"}"#))),
            Ok(CaveatOutcome::True)
        );
        assert_eq!(
            ip.evaluate(Some(&stored), Some(&context(r#"{"user_ip": "1.2.3.4"}"#))),
            Ok(CaveatOutcome::False)
        );
        assert_eq!(
            ip.evaluate(Some(&stored), None),
            Ok(CaveatOutcome::Missing(vec!["user_ip".to_owned()]))
        );
        // The relationship's value wins over the request's.
        let request = context(r#"{"user_ip": "1.2.3.4", "cidr": "0.0.0.0/0"}"#);
        assert_eq!(
            ip.evaluate(Some(&stored), Some(&request)),
            Ok(CaveatOutcome::False)
        );
        assert!(
            ip.evaluate(Some(&stored), Some(&context(r#"{"user_ip": "nope"}"#)))
                .is_err()
        );
    }

    #[test]
    fn typed_parameters() {
        let time = caveat("caveat c(now timestamp, until timestamp) { now < until }");
        let values = context(r#"{"now": "2023-01-01T00:00:00Z", "until": "2024-01-01T00:00:00Z"}"#);
        assert_eq!(time.evaluate(Some(&values), None), Ok(CaveatOutcome::True));
        let list = caveat("caveat c(items list<int>) { items.all(i, i >= 42) }");
        assert_eq!(
            list.evaluate(None, Some(&context(r#"{"items": [42, 50]}"#))),
            Ok(CaveatOutcome::True)
        );
        assert_eq!(
            list.evaluate(None, Some(&context(r#"{"items": [1]}"#))),
            Ok(CaveatOutcome::False)
        );
        let limit = caveat("caveat c(limit uint, count uint) { count < limit }");
        assert_eq!(
            limit.evaluate(None, Some(&context(r#"{"limit": 3, "count": 2}"#))),
            Ok(CaveatOutcome::True)
        );
        assert!(
            limit
                .evaluate(None, Some(&context(r#"{"limit": -3, "count": 2}"#)))
                .is_err()
        );
        let map = caveat("caveat c(m map<any>) { m.foo == 42 && m.bar < 56 }");
        assert_eq!(
            map.evaluate(None, Some(&context(r#"{"m": {"foo": 41}}"#))),
            Ok(CaveatOutcome::False)
        );
        let either = caveat("caveat c(a bool, b bool) { b || a }");
        assert_eq!(
            either.evaluate(None, Some(&context(r#"{"a": true}"#))),
            Ok(CaveatOutcome::True)
        );
        assert_eq!(
            either.evaluate(None, Some(&context(r#"{"a": false}"#))),
            Ok(CaveatOutcome::Missing(vec!["b".to_owned()]))
        );
        let wait = caveat("caveat c(d duration) { d > duration('1h') }");
        assert_eq!(
            wait.evaluate(None, Some(&context(r#"{"d": "1h30m"}"#))),
            Ok(CaveatOutcome::True)
        );
    }

    #[test]
    fn durations_and_cidrs() {
        assert_eq!(parse_duration("1h30m"), Some(chrono::Duration::minutes(90)));
        assert_eq!(
            parse_duration("1.5s"),
            Some(chrono::Duration::milliseconds(1500))
        );
        assert_eq!(parse_duration("-2m"), Some(chrono::Duration::minutes(-2)));
        assert_eq!(parse_duration("0"), Some(chrono::Duration::zero()));
        for bad in ["", "h", "5", "5x", "1h-3m"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(in_cidr("10.1.3.4", "10.1.0.0/16"), Ok(true));
        assert_eq!(in_cidr("10.2.3.4", "10.1.0.0/16"), Ok(false));
        assert_eq!(in_cidr("2001:db8::1", "2001:db8::/32"), Ok(true));
        assert_eq!(in_cidr("1.2.3.4", "0.0.0.0/0"), Ok(true));
        assert!(in_cidr("1.2.3.4", "10.0.0.0/33").is_err());
    }
}

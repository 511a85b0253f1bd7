//! The precise input schema of `create_item` and `update_item`: each environment's data
//! schema from `nexus-api` (the OpenAPI document's), selected by `env`, with every
//! reference inlined (a tool's schema stands alone).

use serde_json::{Map, Value, json};
use utoipa::OpenApi as _;

/// The environments' data types.
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(
    nexus_api::UserProfile,
    nexus_api::Locker,
    nexus_api::TrackItem,
    nexus_api::KbNode,
    nexus_api::Contact,
    nexus_api::SessionTemplate,
    nexus_api::ContextNote,
    nexus_api::Document,
    nexus_api::Link,
    nexus_api::WorkflowProtocol,
    nexus_api::TempItem,
    nexus_api::Transcript,
    nexus_api::Reminder,
)))]
struct ItemData;

/// Each environment and the name of its data schema.
pub(crate) const ENVIRONMENTS: [(&str, &str); 13] = [
    ("user", "UserProfile"),
    ("locker", "Locker"),
    ("track", "TrackItem"),
    ("kb", "KbNode"),
    ("contact", "Contact"),
    ("session", "SessionTemplate"),
    ("context", "ContextNote"),
    ("documents", "Document"),
    ("links", "Link"),
    ("workflow", "WorkflowProtocol"),
    ("temp", "TempItem"),
    ("transcript", "Transcript"),
    ("chrono", "Reminder"),
];

/// The components of the document, by name.
fn components() -> Map<String, Value> {
    serde_json::to_value(ItemData::openapi())
        .ok()
        .and_then(|document| document.get("components")?.get("schemas").cloned())
        .and_then(|schemas| match schemas {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .unwrap_or_default()
}

/// `schema` with every `#/components/schemas/...` reference replaced by its schema (at most
/// a few levels deep: the environments' types nest shallowly).
fn inline(schema: &Value, components: &Map<String, Value>, depth: usize) -> Value {
    match schema {
        Value::Object(object) => {
            if let Some(Value::String(target)) = object.get("$ref")
                && let Some(name) = target.strip_prefix("#/components/schemas/")
                && let Some(found) = components.get(name)
                && depth < 8
            {
                return inline(found, components, depth + 1);
            }
            Value::Object(
                object
                    .iter()
                    .map(|(key, value)| (key.clone(), inline(value, components, depth)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| inline(item, components, depth))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Each environment's data schema, inlined.
pub(crate) fn data_schemas() -> Vec<(&'static str, Value)> {
    let components = components();
    ENVIRONMENTS
        .iter()
        .filter_map(|(env, name)| {
            let schema = components.get(*name)?;
            Some((*env, inline(schema, &components, 0)))
        })
        .collect()
}

/// `input` (a tool's generated schema with `env` and `data` properties) made precise: `env`
/// one of the thirteen, and `data` in the schema of the `env` given.
pub(crate) fn with_data_by_environment(input: &mut Map<String, Value>) {
    let schemas = data_schemas();
    if let Some(Value::Object(properties)) = input.get_mut("properties")
        && let Some(Value::Object(env)) = properties.get_mut("env")
    {
        env.insert(
            "enum".to_owned(),
            Value::Array(schemas.iter().map(|(env, _)| json!(env)).collect()),
        );
    }
    let cases: Vec<Value> = schemas
        .into_iter()
        .map(|(env, schema)| {
            json!({
                "if": {"properties": {"env": {"const": env}}, "required": ["env"]},
                "then": {"properties": {"data": schema}},
            })
        })
        .collect();
    input.insert("allOf".to_owned(), Value::Array(cases));
}

/// A description of every environment's data fields, for tools whose `env` is not an
/// argument (`update_item`: the environment is the key's first part).
pub(crate) fn data_summary() -> String {
    let mut lines = Vec::new();
    for (env, schema) in data_schemas() {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let fields: Vec<String> = schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|properties| {
                properties
                    .keys()
                    .map(|name| {
                        if required.contains(&name.as_str()) {
                            format!("{name}*")
                        } else {
                            name.clone()
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        lines.push(format!("{env}: {}", fields.join(", ")));
    }
    format!(
        "The item's data fields by environment (* required): {}.",
        lines.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_environment_has_a_standalone_data_schema() {
        let schemas = data_schemas();
        assert_eq!(schemas.len(), ENVIRONMENTS.len());
        for (env, schema) in &schemas {
            assert!(!schema.to_string().contains("$ref"), "{env}: {schema}");
            assert_eq!(schema["type"], "object", "{env}");
        }
        let kb = &schemas.iter().find(|(env, _)| *env == "kb").unwrap().1;
        assert!(kb["properties"]["title"].is_object());
        assert!(data_summary().contains("context: "));
    }
}

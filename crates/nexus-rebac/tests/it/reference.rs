//! A separately written reference evaluator, and property tests that the engine agrees with
//! it on random schemas and relationships, and that lookups agree with checks.
//!
//! The reference computes every membership set by plain fixpoint iteration over sets of
//! users (no short-circuits, no memo, no cycle cuts): round after round it recomputes every
//! (object, relation) set from the previous round's sets until nothing changes. Generated
//! schemas only subtract relations (never permissions), so every program is stratified and
//! the iteration reaches the intended model.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use nexus_rebac::{
    CheckRequest, CheckResult, Engine, EngineConfig, ObjectRef, Operation, Relationship,
    RelationshipUpdate, Schema, SubjectRef,
};
use proptest::prelude::*;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

const TYPES: [&str; 3] = ["ta", "tb", "tc"];
const OBJECTS: [&str; 3] = ["o0", "o1", "o2"];
const USERS: [&str; 4] = ["u0", "u1", "u2", "u3"];
/// A user mentioned by no relationship (what a wildcard grants to).
const UNLISTED: &str = "unlisted";

#[derive(Debug, Clone)]
enum Allowed {
    User,
    AnyUser,
    Userset(usize, String),
    Object(usize),
}

#[derive(Debug, Clone)]
enum RExpr {
    Ref(String),
    Union(Box<RExpr>, Box<RExpr>),
    Inter(Box<RExpr>, Box<RExpr>),
    Minus(Box<RExpr>, String),
    Arrow(String, String, bool),
    Nil,
}

#[derive(Debug, Default, Clone)]
struct TypeModel {
    relations: Vec<(String, Vec<Allowed>)>,
    permissions: Vec<(String, RExpr)>,
}

#[derive(Debug, Clone)]
struct Model {
    types: Vec<TypeModel>,
    /// (type, object, relation) -> subjects: ("user", id) or (type index, id, relation or "").
    tuples: BTreeSet<(usize, String, String, SubjectKey)>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SubjectKey {
    User(String),
    AnyUser,
    Userset(usize, String, String),
    Object(usize, String),
}

fn names(model: &TypeModel) -> Vec<String> {
    model
        .relations
        .iter()
        .map(|(name, _)| name.clone())
        .chain(model.permissions.iter().map(|(name, _)| name.clone()))
        .collect()
}

fn generate(seed: u64) -> Model {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut types: Vec<TypeModel> = vec![TypeModel::default(); TYPES.len()];
    // Relations first (usersets may name any relation declared so far or later).
    for (index, model) in types.iter_mut().enumerate() {
        let count = rng.random_range(1..=3);
        for number in 0..count {
            model
                .relations
                .push((format!("rel{index}{number}"), Vec::new()));
        }
    }
    let relation_names: Vec<Vec<String>> = types
        .iter()
        .map(|t| t.relations.iter().map(|r| r.0.clone()).collect())
        .collect();
    for model in &mut types {
        for (_, allowed) in &mut model.relations {
            let options = rng.random_range(1..=3);
            for _ in 0..options {
                let choice = rng.random_range(0..10);
                let entry = match choice {
                    0..=3 => Allowed::User,
                    4 => Allowed::AnyUser,
                    5..=7 => {
                        let target = rng.random_range(0..TYPES.len());
                        let relations = &relation_names[target];
                        Allowed::Userset(
                            target,
                            relations[rng.random_range(0..relations.len())].clone(),
                        )
                    }
                    _ => Allowed::Object(rng.random_range(0..TYPES.len())),
                };
                let duplicate = allowed
                    .iter()
                    .any(|existing| format!("{existing:?}") == format!("{entry:?}"));
                if !duplicate {
                    allowed.push(entry);
                }
            }
        }
    }
    // Permissions, per type, referring to relations and earlier permissions.
    for index in 0..types.len() {
        let count = rng.random_range(1..=3);
        for number in 0..count {
            let expression = random_expr(&mut rng, &types, index, 3);
            types[index]
                .permissions
                .push((format!("perm{index}{number}"), expression));
        }
    }
    let mut tuples = BTreeSet::new();
    let count = rng.random_range(0..25);
    for _ in 0..count {
        let resource_type = rng.random_range(0..TYPES.len());
        let relations = &types[resource_type].relations;
        let (relation, allowed) = &relations[rng.random_range(0..relations.len())];
        let object = OBJECTS[rng.random_range(0..OBJECTS.len())].to_owned();
        let subject = match &allowed[rng.random_range(0..allowed.len())] {
            Allowed::User => SubjectKey::User(USERS[rng.random_range(0..USERS.len())].to_owned()),
            Allowed::AnyUser => SubjectKey::AnyUser,
            Allowed::Userset(target, relation) => SubjectKey::Userset(
                *target,
                OBJECTS[rng.random_range(0..OBJECTS.len())].to_owned(),
                relation.clone(),
            ),
            Allowed::Object(target) => SubjectKey::Object(
                *target,
                OBJECTS[rng.random_range(0..OBJECTS.len())].to_owned(),
            ),
        };
        tuples.insert((resource_type, object, relation.clone(), subject));
    }
    Model { types, tuples }
}

fn random_expr(rng: &mut SmallRng, types: &[TypeModel], index: usize, depth: u32) -> RExpr {
    let model = &types[index];
    let referable = names(model);
    let leaf = |rng: &mut SmallRng| -> RExpr {
        let arrow_relations: Vec<&(String, Vec<Allowed>)> = model
            .relations
            .iter()
            .filter(|(_, allowed)| {
                allowed
                    .iter()
                    .all(|entry| matches!(entry, Allowed::Object(_)))
            })
            .collect();
        if !arrow_relations.is_empty() && rng.random_range(0..4) == 0 {
            let (tupleset, allowed) = arrow_relations[rng.random_range(0..arrow_relations.len())];
            let Allowed::Object(target) = allowed[0] else {
                unreachable!()
            };
            let target_names = names(&types[target]);
            let name = target_names[rng.random_range(0..target_names.len())].clone();
            return RExpr::Arrow(tupleset.clone(), name, rng.random_range(0..3) == 0);
        }
        if rng.random_range(0..12) == 0 {
            return RExpr::Nil;
        }
        RExpr::Ref(referable[rng.random_range(0..referable.len())].clone())
    };
    if depth == 0 || rng.random_range(0..3) == 0 {
        return leaf(rng);
    }
    match rng.random_range(0..3) {
        0 => RExpr::Union(
            Box::new(random_expr(rng, types, index, depth - 1)),
            Box::new(random_expr(rng, types, index, depth - 1)),
        ),
        1 => RExpr::Inter(
            Box::new(random_expr(rng, types, index, depth - 1)),
            Box::new(random_expr(rng, types, index, depth - 1)),
        ),
        _ => {
            let relation = model.relations[rng.random_range(0..model.relations.len())]
                .0
                .clone();
            RExpr::Minus(
                Box::new(random_expr(rng, types, index, depth - 1)),
                relation,
            )
        }
    }
}

fn render_expr(expression: &RExpr) -> String {
    match expression {
        RExpr::Ref(name) => name.clone(),
        RExpr::Union(a, b) => format!("({} + {})", render_expr(a), render_expr(b)),
        RExpr::Inter(a, b) => format!("({} & {})", render_expr(a), render_expr(b)),
        RExpr::Minus(a, b) => format!("({} - {b})", render_expr(a)),
        RExpr::Arrow(tupleset, target, false) => format!("{tupleset}->{target}"),
        RExpr::Arrow(tupleset, target, true) => format!("{tupleset}.all({target})"),
        RExpr::Nil => "nil".to_owned(),
    }
}

fn render_schema(model: &Model) -> String {
    let mut text = String::from("definition user {}\n");
    for (index, definition) in model.types.iter().enumerate() {
        writeln!(text, "definition {} {{", TYPES[index]).unwrap();
        for (name, allowed) in &definition.relations {
            let forms: Vec<String> = allowed
                .iter()
                .map(|entry| match entry {
                    Allowed::User => "user".to_owned(),
                    Allowed::AnyUser => "user:*".to_owned(),
                    Allowed::Userset(target, relation) => format!("{}#{relation}", TYPES[*target]),
                    Allowed::Object(target) => TYPES[*target].to_owned(),
                })
                .collect();
            writeln!(text, "  relation {name}: {}", forms.join(" | ")).unwrap();
        }
        for (name, expression) in &definition.permissions {
            writeln!(text, "  permission {name} = {}", render_expr(expression)).unwrap();
        }
        text.push_str("}\n");
    }
    text
}

fn render_tuple(tuple: &(usize, String, String, SubjectKey)) -> String {
    let (resource_type, object, relation, subject) = tuple;
    let subject = match subject {
        SubjectKey::User(id) => format!("user:{id}"),
        SubjectKey::AnyUser => "user:*".to_owned(),
        SubjectKey::Userset(target, id, relation) => format!("{}:{id}#{relation}", TYPES[*target]),
        SubjectKey::Object(target, id) => format!("{}:{id}", TYPES[*target]),
    };
    format!("{}:{object}#{relation}@{subject}", TYPES[*resource_type])
}

type Sets = BTreeMap<(usize, String, String), BTreeSet<String>>;

/// The reference: fixpoint iteration over user sets. `None` if it does not converge.
fn reference(model: &Model) -> Option<Sets> {
    let all_users: BTreeSet<String> = USERS
        .iter()
        .map(|u| (*u).to_owned())
        .chain([UNLISTED.to_owned()])
        .collect();
    let mut sets: Sets = BTreeMap::new();
    for _round in 0..200 {
        let mut next: Sets = BTreeMap::new();
        for (index, definition) in model.types.iter().enumerate() {
            for object in OBJECTS {
                for (relation, _) in &definition.relations {
                    let mut members = BTreeSet::new();
                    for (t, o, r, subject) in &model.tuples {
                        if *t != index || o != object || r != relation {
                            continue;
                        }
                        match subject {
                            SubjectKey::User(user) => {
                                members.insert(user.clone());
                            }
                            SubjectKey::AnyUser => members.extend(all_users.iter().cloned()),
                            SubjectKey::Userset(target, id, relation) => {
                                members.extend(lookup(&sets, *target, id, relation));
                            }
                            SubjectKey::Object(..) => {}
                        }
                    }
                    next.insert((index, object.to_owned(), relation.clone()), members);
                }
                for (permission, expression) in &definition.permissions {
                    let members = eval(model, &sets, index, object, expression);
                    next.insert((index, object.to_owned(), permission.clone()), members);
                }
            }
        }
        if next == sets {
            return Some(sets);
        }
        sets = next;
    }
    None
}

fn lookup(sets: &Sets, index: usize, object: &str, relation: &str) -> BTreeSet<String> {
    sets.get(&(index, object.to_owned(), relation.to_owned()))
        .cloned()
        .unwrap_or_default()
}

fn eval(
    model: &Model,
    sets: &Sets,
    index: usize,
    object: &str,
    expression: &RExpr,
) -> BTreeSet<String> {
    match expression {
        RExpr::Nil => BTreeSet::new(),
        RExpr::Ref(name) => lookup(sets, index, object, name),
        RExpr::Union(a, b) => {
            &eval(model, sets, index, object, a) | &eval(model, sets, index, object, b)
        }
        RExpr::Inter(a, b) => {
            &eval(model, sets, index, object, a) & &eval(model, sets, index, object, b)
        }
        RExpr::Minus(a, relation) => {
            &eval(model, sets, index, object, a) - &lookup(sets, index, object, relation)
        }
        RExpr::Arrow(tupleset, target, all) => {
            let pointed: Vec<(usize, String)> = model
                .tuples
                .iter()
                .filter(|(t, o, r, _)| *t == index && o == object && r == tupleset)
                .filter_map(|(_, _, _, subject)| match subject {
                    SubjectKey::Object(target_type, id) => Some((*target_type, id.clone())),
                    _ => None,
                })
                .collect();
            let has_target = |target_type: usize| names(&model.types[target_type]).contains(target);
            if *all {
                if pointed.is_empty() {
                    return BTreeSet::new();
                }
                let mut result: Option<BTreeSet<String>> = None;
                for (target_type, id) in pointed {
                    let members = if has_target(target_type) {
                        lookup(sets, target_type, &id, target)
                    } else {
                        BTreeSet::new()
                    };
                    result = Some(match result {
                        None => members,
                        Some(previous) => &previous & &members,
                    });
                }
                result.unwrap_or_default()
            } else {
                let mut result = BTreeSet::new();
                for (target_type, id) in pointed {
                    if has_target(target_type) {
                        result.extend(lookup(sets, target_type, &id, target));
                    }
                }
                result
            }
        }
    }
}

fn check(
    engine: &Engine,
    resource_type: usize,
    object: &str,
    relation: &str,
    user: &str,
) -> CheckResult {
    engine
        .check(&CheckRequest {
            resource: &ObjectRef::new(TYPES[resource_type], object),
            permission: relation,
            subject: &SubjectRef::object("user", user),
            context: None,
            now: 0,
        })
        .unwrap_or_else(|error| panic!("check failed: {error}"))
}

fn run_case(seed: u64) -> Result<usize, TestCaseError> {
    let model = generate(seed);
    let schema_text = render_schema(&model);
    let Ok(schema) = Schema::parse(&schema_text) else {
        // Some random schemas are invalid (e.g. a permission that depends on itself).
        return Ok(0);
    };
    let Some(expected) = reference(&model) else {
        return Ok(0);
    };
    let mut engine = Engine::new(schema, EngineConfig::default());
    let updates: Vec<RelationshipUpdate> = model
        .tuples
        .iter()
        .map(|tuple| RelationshipUpdate {
            operation: Operation::Touch,
            relationship: Relationship::parse(&render_tuple(tuple)).unwrap(),
        })
        .collect();
    engine.write(&updates, &[], 0).unwrap();
    let mut decisions = 0;
    for (index, definition) in model.types.iter().enumerate() {
        for name in names(definition) {
            for object in OBJECTS {
                let members = lookup(&expected, index, object, &name);
                for user in USERS.iter().copied().chain([UNLISTED]) {
                    let got = check(&engine, index, object, &name, user);
                    let want = if members.contains(user) {
                        CheckResult::Has
                    } else {
                        CheckResult::No
                    };
                    prop_assert_eq!(
                        &got,
                        &want,
                        "seed {} {}:{}#{}@user:{}\n{}\n{}",
                        seed,
                        TYPES[index],
                        object,
                        name,
                        user,
                        schema_text,
                        model
                            .tuples
                            .iter()
                            .map(render_tuple)
                            .collect::<Vec<_>>()
                            .join("\n")
                    );
                    decisions += 1;
                }
                // Subject lookup = the users a check allows (the wildcard stands for the rest).
                let found = engine
                    .lookup_subjects(
                        &ObjectRef::new(TYPES[index], object),
                        &name,
                        "user",
                        None,
                        None,
                        0,
                    )
                    .unwrap();
                let mut listed: BTreeSet<String> = found
                    .subjects
                    .iter()
                    .map(|s| s.subject.object.object_id.clone())
                    .collect();
                if let Some(wildcard) = &found.wildcard {
                    let excluded: BTreeSet<String> = wildcard
                        .excluded
                        .iter()
                        .map(|s| s.object.object_id.clone())
                        .collect();
                    for user in USERS.iter().chain([&UNLISTED]) {
                        if !excluded.contains(*user) {
                            listed.insert((*user).to_owned());
                        }
                    }
                } else {
                    prop_assert!(
                        !members.contains(UNLISTED),
                        "seed {seed}: wildcard access not reported"
                    );
                }
                prop_assert_eq!(
                    &listed,
                    &members,
                    "seed {} lookup_subjects {}:{}#{}",
                    seed,
                    TYPES[index],
                    object,
                    name
                );
            }
            // Resource lookup = the objects a check allows.
            for user in USERS {
                let found = engine
                    .lookup_resources(
                        TYPES[index],
                        &name,
                        &SubjectRef::object("user", user),
                        None,
                        0,
                    )
                    .unwrap();
                let listed: BTreeSet<String> = found.into_iter().map(|f| f.id).collect();
                let wanted: BTreeSet<String> = OBJECTS
                    .iter()
                    .filter(|object| lookup(&expected, index, object, &name).contains(user))
                    .map(|object| (*object).to_owned())
                    .collect();
                // Objects without any relationship are unknown to a lookup unless the user
                // reaches them; the reference only knows the three objects.
                prop_assert_eq!(
                    &listed,
                    &wanted,
                    "seed {} lookup_resources {}#{}@user:{}",
                    seed,
                    TYPES[index],
                    name,
                    user
                );
            }
        }
    }
    Ok(decisions)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn engine_agrees_with_the_reference(seed in any::<u64>()) {
        run_case(seed)?;
    }
}

/// Enough random worlds to make tens of thousands of decisions.
#[test]
fn many_decisions_agree() {
    let mut decisions = 0;
    let mut seed = 0_u64;
    while decisions < 50_000 {
        decisions += run_case(seed).unwrap_or_else(|error| panic!("{error}"));
        seed += 1;
    }
    println!("{decisions} decisions over {seed} random worlds agree with the reference");
}

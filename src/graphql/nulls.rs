//! A failed field is null in `data`, as the spec has it: async-graphql 7
//! leaves it out of its object instead, which clients (Apollo's cache among
//! them) read as a missing field, not as "null plus an error". A non-null
//! field cannot be null, so the null goes to its nearest nullable ancestor
//! (the whole `data` when there is none).

use async_graphql::{
    PathSegment, ServerError, Value,
    parser::types::{BaseType, ExecutableDocument, OperationDefinition, SelectionSet, Type},
};

use super::selections::{self, SchemaTypes};

pub fn fill(
    data: &mut Value,
    errors: &[ServerError],
    document: &ExecutableDocument,
    operation: &OperationDefinition,
    types: &SchemaTypes,
) {
    // Where each error's null lands: its nearest nullable position.
    let mut targets = Vec::new();
    for error in errors.iter().filter(|error| !error.path.is_empty()) {
        let nullable = nullability(&error.path, document, operation, types);
        match nullable.iter().rposition(|nullable| *nullable) {
            Some(last) => targets.push(&error.path[..=last]),
            None => {
                *data = Value::Null;
                return;
            }
        }
    }
    for target in &targets {
        // A null landing on an ancestor takes this one with it.
        let below_another = targets
            .iter()
            .any(|other| other.len() < target.len() && target.starts_with(other));
        if !below_another {
            set_null(data, target);
        }
    }
}

/// Whether each position along `path` may be null. A position the walk
/// cannot place (an introspection field, say) counts as nullable, so its
/// error nulls the field itself.
fn nullability(
    path: &[PathSegment],
    document: &ExecutableDocument,
    operation: &OperationDefinition,
    types: &SchemaTypes,
) -> Vec<bool> {
    let mut nullable = Vec::with_capacity(path.len());
    let mut set: Option<&SelectionSet> = Some(&operation.selection_set.node);
    let mut on = selections::root_type(operation);
    let mut ty: Option<&Type> = None;
    for segment in path {
        match segment {
            PathSegment::Field(key) => {
                let found = set.and_then(|set| field_by_key(document, set, on, key));
                let def =
                    found.and_then(|(field, parent)| types.field(parent, &field.node.name.node));
                nullable.push(def.is_none_or(|def| def.ty.nullable));
                ty = def.map(|def| &def.ty);
                set = found.map(|(field, _)| &field.node.selection_set.node);
                on = ty.map_or("", |ty| selections::named(&ty.base));
            }
            PathSegment::Index(_) => {
                ty = match ty.map(|ty| &ty.base) {
                    Some(BaseType::List(item)) => Some(item),
                    _ => None,
                };
                nullable.push(ty.is_none_or(|item| item.nullable));
            }
        }
    }
    nullable
}

fn field_by_key<'d>(
    document: &'d ExecutableDocument,
    set: &'d SelectionSet,
    on: &'d str,
    key: &str,
) -> Option<(
    &'d async_graphql::Positioned<async_graphql::parser::types::Field>,
    &'d str,
)> {
    let mut found = None;
    selections::each_field(document, set, on, &mut |field, parent| {
        if found.is_none() && field.node.response_key().node == key {
            found = Some((field, parent));
        }
    });
    found
}

/// Nulls the value at `path`. An object on the way that is null was nulled
/// by async-graphql because every field it selected failed (each
/// FORBIDDEN, say; no error's null lands on it, `fill` makes sure): it is
/// put back, with those fields null, since a null in its place would read
/// as "there is none".
fn set_null(data: &mut Value, path: &[PathSegment]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut value = data;
    for segment in parents {
        value = match (segment, value) {
            (PathSegment::Field(key), Value::Object(object)) => {
                match object.get_mut(key.as_str()) {
                    Some(inner) => {
                        if *inner == Value::Null {
                            *inner = Value::Object(Default::default());
                        }
                        inner
                    }
                    None => return,
                }
            }
            (PathSegment::Index(index), Value::List(items)) => match items.get_mut(*index) {
                Some(inner) => inner,
                None => return,
            },
            _ => return,
        };
    }
    match (last, value) {
        (PathSegment::Field(key), Value::Object(object)) => {
            object.insert(async_graphql::Name::new(key), Value::Null);
        }
        (PathSegment::Index(index), Value::List(items)) => {
            if let Some(item) = items.get_mut(*index) {
                *item = Value::Null;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    fn filled(query: &str, data: serde_json::Value, path: &[PathSegment]) -> serde_json::Value {
        let types = SchemaTypes::from_sdl(&crate::graphql::sdl());
        let document = parse_query(query).unwrap();
        let operation = selections::operation(&document, None).unwrap();
        let mut data = Value::from_json(data).unwrap();
        let mut error = ServerError::new("failed", None);
        error.path = path.to_vec();
        fill(&mut data, &[error], &document, &operation.node, &types);
        data.into_json().unwrap()
    }

    fn field(key: &str) -> PathSegment {
        PathSegment::Field(key.to_owned())
    }

    #[test]
    fn an_object_whose_every_field_failed_stays_an_object() {
        let types = SchemaTypes::from_sdl(&crate::graphql::sdl());
        let query = "{ user(username: \"a\") { email role } }";
        let document = parse_query(query).unwrap();
        let operation = selections::operation(&document, None).unwrap();
        let mut data = Value::from_json(serde_json::json!({ "user": null })).unwrap();
        let errors: Vec<ServerError> = ["email", "role"]
            .into_iter()
            .map(|name| {
                let mut error = ServerError::new("forbidden", None);
                error.path = vec![field("user"), field(name)];
                error
            })
            .collect();
        fill(&mut data, &errors, &document, &operation.node, &types);
        assert_eq!(
            data.into_json().unwrap(),
            serde_json::json!({ "user": { "email": null, "role": null } })
        );
    }

    #[test]
    fn a_nullable_field_becomes_null() {
        let data = filled(
            "{ user(username: \"a\") { username mail: email } }",
            serde_json::json!({ "user": { "username": "a" } }),
            &[field("user"), field("mail")],
        );
        assert_eq!(
            data,
            serde_json::json!({ "user": { "username": "a", "mail": null } })
        );
    }

    #[test]
    fn a_non_null_field_nulls_its_nearest_nullable_parent() {
        let query = "{ articles { nodes { slug author { ...A } } } }
                     fragment A on User { username }";
        let data = filled(
            query,
            serde_json::json!({ "articles": { "nodes": [
                { "slug": "a", "author": { "username": "x" } },
                { "slug": "b", "author": {} },
            ] } }),
            &[
                field("articles"),
                field("nodes"),
                PathSegment::Index(1),
                field("author"),
                field("username"),
            ],
        );
        // `nodes` is `[Article!]!` and `articles` is non-null: nothing
        // between the field and the root may be null.
        assert_eq!(data, serde_json::Value::Null);
        let data = filled(
            "{ nodes(ids: [\"a\", \"b\"]) { id } }",
            serde_json::json!({ "nodes": [{ "id": "a" }, {}] }),
            &[field("nodes"), PathSegment::Index(1), field("id")],
        );
        assert_eq!(data, serde_json::json!({ "nodes": [{ "id": "a" }, null] }));
    }
}

//! Strings a request carries may not hold NUL: Postgres cannot store or
//! compare it (its text types end at NUL) and would fail the statement,
//! while SQLite would store it. Refusing it in one place, before anything
//! runs, gives every argument, variable and filter the same clear
//! BAD_USER_INPUT on every backend.

use async_graphql::{
    Positioned, ServerResult, Value, Variables,
    parser::types::{Directive, ExecutableDocument, Selection, SelectionSet},
};

use super::errors;

pub(super) fn check(document: &ExecutableDocument, variables: &Variables) -> ServerResult<()> {
    let in_variables = variables.values().any(has_nul);
    let in_document = document.operations.iter().any(|(_, operation)| {
        let operation = &operation.node;
        operation.variable_definitions.iter().any(|definition| {
            definition
                .node
                .default_value
                .as_ref()
                .is_some_and(|value| has_nul(&value.node))
        }) || directives_have_nul(&operation.directives)
            || selection_has_nul(&operation.selection_set.node)
    }) || document.fragments.values().any(|fragment| {
        directives_have_nul(&fragment.node.directives)
            || selection_has_nul(&fragment.node.selection_set.node)
    });
    if in_variables || in_document {
        return Err(errors::coded(
            "strings may not contain the NUL character (\\u0000)".to_owned(),
            errors::BAD_USER_INPUT,
        ));
    }
    Ok(())
}

/// Whether an argument as written holds NUL. Its type belongs to a crate
/// async-graphql does not re-export, so it is converted where it is known;
/// variables in it read as null here, being checked with the variables.
macro_rules! argument_has_nul {
    ($value:expr) => {
        $value
            .node
            .clone()
            .into_const_with(|_| Ok::<_, ()>(Value::Null))
            .is_ok_and(|value| has_nul(&value))
    };
}

fn selection_has_nul(set: &SelectionSet) -> bool {
    set.items.iter().any(|item| match &item.node {
        Selection::Field(field) => {
            field
                .node
                .arguments
                .iter()
                .any(|(_, value)| argument_has_nul!(value))
                || directives_have_nul(&field.node.directives)
                || selection_has_nul(&field.node.selection_set.node)
        }
        Selection::InlineFragment(fragment) => {
            directives_have_nul(&fragment.node.directives)
                || selection_has_nul(&fragment.node.selection_set.node)
        }
        Selection::FragmentSpread(spread) => directives_have_nul(&spread.node.directives),
    })
}

fn directives_have_nul(directives: &[Positioned<Directive>]) -> bool {
    directives.iter().any(|directive| {
        directive
            .node
            .arguments
            .iter()
            .any(|(_, value)| argument_has_nul!(value))
    })
}

fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::List(items) => items.iter().any(has_nul),
        Value::Object(fields) => fields
            .iter()
            .any(|(name, value)| name.contains('\0') || has_nul(value)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    fn refused(query: &str, variables: serde_json::Value) -> bool {
        let document = parse_query(query).unwrap();
        check(&document, &Variables::from_json(variables)).is_err()
    }

    #[test]
    fn nul_is_refused_wherever_a_string_is() {
        let none = serde_json::json!({});
        assert!(refused(
            r#"{ user(username: "a\u0000b") { id } }"#,
            none.clone()
        ));
        assert!(refused(
            r#"{ articles(filter: { search: "\u0000" }) { totalCount } }"#,
            none.clone()
        ));
        assert!(refused(
            r#"{ a: __typename @include(if: true) ...F } fragment F on Query { user(username: "\u0000") { id } }"#,
            none.clone()
        ));
        assert!(refused(
            r#"query($s: String = "\u0000") { user(username: $s) { id } }"#,
            none.clone()
        ));
        assert!(refused(
            "query($s: String!) { user(username: $s) { id } }",
            serde_json::json!({ "s": "x\u{0}" })
        ));
        assert!(refused(
            "query($f: ArticleFilter) { articles(filter: $f) { totalCount } }",
            serde_json::json!({ "f": { "tag": ["\u{0}"] } })
        ));
        assert!(!refused(
            r#"{ user(username: "\\u0000 is fine as text") { id } }"#,
            none
        ));
    }
}

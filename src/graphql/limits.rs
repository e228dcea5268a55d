//! Limits on what one request may ask for, all checked before any resolver
//! runs (by the `engine`):
//!
//! - Depth uses async-graphql's validation.
//! - Complexity is the cost below: each field costs 1 plus what it selects,
//!   and a page costs its size times what is selected per item (a field
//!   taking `ids`, one item per id). async-graphql computes the same thing
//!   with annotated fields, but hands the result only to extensions, and
//!   any extension costs a hook on every field of every response.
//! - The shape of the document (aliases, root fields, and the number of field
//!   selections once fragments are expanded) is checked right after parsing,
//!   by a walk that visits each fragment once: a document whose fragments
//!   spread each other exponentially is refused without being expanded.
//! - The cost (the complexity) is then charged to the client's rate-limit
//!   budgets (`cost_limit`).

use std::collections::HashMap;

use async_graphql::{
    Positioned, ServerError, ServerResult, Variables,
    parser::types::{
        Directive, ExecutableDocument, Field, OperationDefinition, Selection, SelectionSet,
    },
};

use super::selections::{self, SchemaTypes};

use crate::domain::cursor::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    pub depth: usize,
    pub complexity: usize,
    pub aliases: usize,
    pub root_fields: usize,
    /// Field selections with fragments expanded.
    pub fields: usize,
    /// Tokens in a document's text, checked before it is parsed.
    pub tokens: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            depth: 15,
            complexity: 20_000,
            aliases: 50,
            root_fields: 20,
            fields: 2_000,
            tokens: super::tokens::DEFAULT_MAX_TOKENS,
        }
    }
}

/// The complexity of a connection field: its page size (as requested, within
/// the limits pagination enforces) times the cost of one item's selection.
pub fn connection_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let size = first
        .or(last)
        .map_or(DEFAULT_PAGE_SIZE, |size| u64::try_from(size).unwrap_or(0))
        .clamp(1, MAX_PAGE_SIZE);
    usize::try_from(size)
        .unwrap_or(usize::MAX)
        .saturating_mul(child_complexity)
        .saturating_add(1)
}

/// The cost of running `operation`, refused past the complexity limit.
pub(super) fn cost(
    document: &ExecutableDocument,
    operation: &OperationDefinition,
    variables: &Variables,
    types: &SchemaTypes,
    limits: &QueryLimits,
) -> ServerResult<usize> {
    let walk = CostWalk {
        document,
        operation,
        variables,
        types,
    };
    let cost = walk.selection(
        &operation.selection_set.node,
        selections::root_type(operation),
    );
    if cost > limits.complexity {
        return Err(refuse("Query is too complex.".to_owned()));
    }
    Ok(cost)
}

struct CostWalk<'d> {
    document: &'d ExecutableDocument,
    operation: &'d OperationDefinition,
    variables: &'d Variables,
    types: &'d SchemaTypes,
}

impl<'d> CostWalk<'d> {
    fn selection(&self, set: &'d SelectionSet, on: &'d str) -> usize {
        let mut total = 0usize;
        selections::each_field(self.document, set, on, &mut |field, parent| {
            let name = field.node.name.node.as_str();
            let children = self.selection(
                &field.node.selection_set.node,
                self.types.returns(parent, name),
            );
            let size = |argument| {
                selections::int_argument(&field.node, argument, self.operation, self.variables)
                    .map(|size| i32::try_from(size).unwrap_or(i32::MAX))
            };
            let cost = match self.types.field(parent, name) {
                Some(def) if def.paged => connection_cost(size("first"), size("last"), children),
                Some(def) if def.per_id => {
                    let ids =
                        selections::list_length(&field.node, "ids", self.operation, self.variables);
                    ids.saturating_mul(children).saturating_add(1)
                }
                _ => children.saturating_add(1),
            };
            total = total.saturating_add(cost);
        });
        total
    }
}

#[derive(Default, Clone, Copy)]
struct Shape {
    fields: usize,
    aliases: usize,
}

impl Shape {
    fn add(self, other: Self) -> Self {
        Self {
            fields: self.fields.saturating_add(other.fields),
            aliases: self.aliases.saturating_add(other.aliases),
        }
    }
}

pub(super) fn check_shape(document: &ExecutableDocument, limits: &QueryLimits) -> ServerResult<()> {
    directive_rules(document)?;
    let mut memo = HashMap::new();
    for (_, operation) in document.operations.iter() {
        let root = &operation.node.selection_set.node;
        let root_fields = root_fields(document, root, &mut HashMap::new(), &mut Vec::new());
        if root_fields > limits.root_fields {
            return Err(refuse(format!(
                "an operation may select at most {} root fields (this one selects {root_fields})",
                limits.root_fields
            )));
        }
        let mut cycle = None;
        let shape = walk(document, root, &mut memo, &mut Vec::new(), &mut cycle);
        // Refused here, not left to validation, which runs after the cost:
        // the cost walk expands fragments along every path, and a cycle
        // through a field's selection would never end.
        if let Some(name) = cycle {
            return Err(refuse(format!(
                "Cannot spread fragment \"{name}\" within itself."
            )));
        }
        if shape.aliases > limits.aliases {
            return Err(refuse(format!(
                "a query may use at most {} aliases (this one uses {})",
                limits.aliases, shape.aliases
            )));
        }
        if shape.fields > limits.fields {
            return Err(refuse(format!(
                "a query may make at most {} selections (fields and fragment spreads) once fragments are expanded (this one makes {})",
                limits.fields, shape.fields
            )));
        }
    }
    Ok(())
}

/// The root fields a selection set runs: its own fields and those its
/// fragments (inline or spread, on the root type) bring, each fragment
/// counted once however often it is spread, and a cycle as nothing
/// (`walk` refuses it).
fn root_fields<'a>(
    document: &'a ExecutableDocument,
    set: &'a SelectionSet,
    memo: &mut HashMap<&'a str, usize>,
    visiting: &mut Vec<&'a str>,
) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(_) => 1,
            Selection::InlineFragment(fragment) => {
                root_fields(document, &fragment.node.selection_set.node, memo, visiting)
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                if memo.contains_key(name) || visiting.contains(&name) {
                    return 0;
                }
                let Some(fragment) = document.fragments.get(name) else {
                    return 0;
                };
                visiting.push(name);
                let count =
                    root_fields(document, &fragment.node.selection_set.node, memo, visiting);
                visiting.pop();
                memo.insert(name, count);
                count
            }
        })
        .fold(0, usize::saturating_add)
}

/// The expanded shape of a selection set, memoising fragments. A fragment
/// cycle counts as empty and is noted in `cycle`.
fn walk<'a>(
    document: &'a ExecutableDocument,
    selection_set: &'a SelectionSet,
    memo: &mut HashMap<&'a str, Shape>,
    visiting: &mut Vec<&'a str>,
    cycle: &mut Option<&'a str>,
) -> Shape {
    let mut shape = Shape::default();
    for item in &selection_set.items {
        let inner = match &item.node {
            Selection::Field(field) => {
                let own = Shape {
                    fields: 1,
                    aliases: usize::from(field.node.alias.is_some()),
                };
                own.add(walk(
                    document,
                    &field.node.selection_set.node,
                    memo,
                    visiting,
                    cycle,
                ))
            }
            Selection::InlineFragment(fragment) => walk(
                document,
                &fragment.node.selection_set.node,
                memo,
                visiting,
                cycle,
            ),
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                // The spread counts as a selection itself: spreads of
                // fragments that select nothing (or do not exist) still
                // cost a walk each time they are expanded.
                let spread = Shape {
                    fields: 1,
                    aliases: 0,
                };
                spread.add(if let Some(known) = memo.get(name) {
                    *known
                } else if visiting.contains(&name) {
                    cycle.get_or_insert(name);
                    Shape::default()
                } else if let Some(fragment) = document.fragments.get(name) {
                    visiting.push(name);
                    let computed = walk(
                        document,
                        &fragment.node.selection_set.node,
                        memo,
                        visiting,
                        cycle,
                    );
                    visiting.pop();
                    memo.insert(name, computed);
                    computed
                } else {
                    Shape::default()
                })
            }
        };
        shape = shape.add(inner);
    }
    shape
}

/// Most directives one location may carry. Folio's executable directives
/// (`@include`, `@skip`) are not repeatable, so two is all a real query
/// uses; checked before anything compares directives, so the uniqueness
/// check below stays constant per location however many a flood carries.
pub const MAX_DIRECTIVES_PER_LOCATION: usize = 8;

/// The executable directives of the schema, for `__typename`, which
/// async-graphql's validation does not visit.
const FIELD_DIRECTIVES: [&str; 2] = ["include", "skip"];

/// Rules on directives (and `__typename`) checked in one linear pass:
/// - at most [`MAX_DIRECTIVES_PER_LOCATION`] at any location, and none
///   twice (GraphQL's "Directives Are Unique Per Location", which
///   async-graphql checks only after a quadratic walk of its own);
/// - `__typename` takes no arguments and only `@include` and `@skip`, as
///   for any other field (async-graphql's validation skips it).
fn directive_rules(document: &ExecutableDocument) -> ServerResult<()> {
    fn check(directives: &[Positioned<Directive>]) -> ServerResult<()> {
        if directives.len() > MAX_DIRECTIVES_PER_LOCATION {
            return Err(refuse(format!(
                "at most {MAX_DIRECTIVES_PER_LOCATION} directives may be used at one location (this one has {})",
                directives.len()
            )));
        }
        for (index, directive) in directives.iter().enumerate() {
            let name = &directive.node.name.node;
            if directives[..index]
                .iter()
                .any(|earlier| earlier.node.name.node == *name)
            {
                return Err(refuse(format!(
                    "The directive \"@{name}\" can only be used once at this location."
                )));
            }
        }
        Ok(())
    }
    fn typename(field: &Field) -> ServerResult<()> {
        if let Some((name, _)) = field.arguments.first() {
            return Err(refuse(format!(
                "Unknown argument \"{}\" on field \"__typename\".",
                name.node
            )));
        }
        match field
            .directives
            .iter()
            .find(|directive| !FIELD_DIRECTIVES.contains(&directive.node.name.node.as_str()))
        {
            Some(unknown) => Err(refuse(format!(
                "Unknown directive \"@{}\".",
                unknown.node.name.node
            ))),
            None => Ok(()),
        }
    }
    fn walk(set: &SelectionSet) -> ServerResult<()> {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    check(&field.node.directives)?;
                    if field.node.name.node == "__typename" {
                        typename(&field.node)?;
                    }
                    walk(&field.node.selection_set.node)?;
                }
                Selection::InlineFragment(fragment) => {
                    check(&fragment.node.directives)?;
                    walk(&fragment.node.selection_set.node)?;
                }
                Selection::FragmentSpread(spread) => check(&spread.node.directives)?,
            }
        }
        Ok(())
    }
    for (_, operation) in document.operations.iter() {
        check(&operation.node.directives)?;
        for variable in &operation.node.variable_definitions {
            check(&variable.node.directives)?;
        }
        walk(&operation.node.selection_set.node)?;
    }
    for fragment in document.fragments.values() {
        check(&fragment.node.directives)?;
        walk(&fragment.node.selection_set.node)?;
    }
    Ok(())
}

fn refuse(message: String) -> ServerError {
    super::errors::coded(message, super::errors::GRAPHQL_VALIDATION_FAILED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_cost_their_page_size() {
        assert_eq!(connection_cost(Some(10), None, 5), 51);
        assert_eq!(connection_cost(None, Some(100), 2), 201);
        assert_eq!(connection_cost(None, None, 3), 61);
        assert_eq!(connection_cost(Some(1_000_000), None, 1), 101);
        assert_eq!(connection_cost(Some(-5), None, 1), 2);
    }

    fn cost_of(query: &str, variables: serde_json::Value) -> ServerResult<usize> {
        let types = SchemaTypes::from_sdl(&crate::graphql::sdl());
        let document = async_graphql::parser::parse_query(query).unwrap();
        let operation = selections::operation(&document, None).unwrap();
        let variables = Variables::from_json(variables);
        let limits = QueryLimits {
            complexity: 1_000,
            ..QueryLimits::default()
        };
        cost(&document, &operation.node, &variables, &types, &limits)
    }

    #[test]
    fn pages_cost_their_size_times_their_items() {
        let page = "query($n: Int = 5) { articles(first: $n) { nodes { title } } }";
        // 1 for the page, plus per item `nodes` and `title`.
        assert_eq!(cost_of(page, serde_json::json!({ "n": 10 })), Ok(21));
        assert_eq!(cost_of(page, serde_json::json!({})), Ok(11));
        let defaults = "{ articles { totalCount } __typename }";
        assert_eq!(cost_of(defaults, serde_json::json!({})), Ok(22));
        let nested = "{ viewer { articles(last: 3) { nodes { ...F } } } }
                      fragment F on Article { comments(first: 2) { totalCount } }";
        assert_eq!(
            cost_of(nested, serde_json::json!({})),
            Ok(1 + 1 + 3 * (1 + 1 + 2))
        );
        let ids = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }";
        assert_eq!(
            cost_of(ids, serde_json::json!({ "ids": ["a", "b", "c"] })),
            Ok(4)
        );
        let refused = cost_of(
            "{ articles(first: 100) { nodes { comments(first: 100) { totalCount } } } }",
            serde_json::json!({}),
        );
        assert!(refused.is_err());
        let cycle = "{ viewer { ...A } } fragment A on User { bio ...A }";
        assert_eq!(cost_of(cycle, serde_json::json!({})), Ok(2));
    }

    fn shape_of(query: &str) -> ServerResult<()> {
        let document = async_graphql::parser::parse_query(query).unwrap();
        check_shape(
            &document,
            &QueryLimits {
                aliases: 3,
                root_fields: 3,
                fields: 50,
                ..QueryLimits::default()
            },
        )
    }

    #[test]
    fn shape_limits() {
        assert!(shape_of("{ a b c }").is_ok());
        assert!(shape_of("{ a b c d }").is_err());
        // Root fields inside fragments count too.
        assert!(shape_of("{ a ... on Query { b c d } }").is_err());
        assert!(shape_of("{ a ...F } fragment F on Query { b c d }").is_err());
        assert!(shape_of("{ a ...F ...F } fragment F on Query { b c }").is_ok());
        assert!(shape_of("{ x { a: b c: d e: f g: h } }").is_err());
        // 2^10 expanded selections from a handful of fragments.
        let mut query = String::from("{ x { ...F0 } }");
        for i in 0..10 {
            query.push_str(&format!(
                " fragment F{i} on T {{ ...F{} ...F{} }}",
                i + 1,
                i + 1
            ));
        }
        query.push_str(" fragment F10 on T { a }");
        assert!(shape_of(&query).is_err());
        // A cycle does not hang the walk, and is refused, also when it
        // passes through a field.
        assert!(
            shape_of("{ x { ...A } } fragment A on T { ...B } fragment B on T { ...A }").is_err()
        );
        assert!(shape_of("{ x { ...A } } fragment A on T { y { ...A } }").is_err());
    }
}

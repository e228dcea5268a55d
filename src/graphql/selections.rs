//! An operation's selections read with the schema's types, before or after
//! it runs. async-graphql offers per-field hooks for this, but any extension
//! puts every field of every response through a chain of boxed futures and
//! registry lookups (a fifth of a list page's CPU); what the hooks learned
//! (cost, what a response reads, which errors null which parents) follows
//! from the document and the schema alone.

use std::collections::{HashMap, HashSet};

use async_graphql::{
    Positioned, Variables,
    parser::{
        parse_schema,
        types::{
            BaseType, ExecutableDocument, Field, OperationDefinition, OperationType, Selection,
            SelectionSet, Type, TypeKind, TypeSystemDefinition,
        },
    },
};

/// The schema's object and interface fields with their types.
pub struct SchemaTypes {
    fields: HashMap<String, HashMap<String, FieldDef>>,
}

pub struct FieldDef {
    pub ty: Type,
    /// Takes `first`/`last`: returns a page of that size.
    pub paged: bool,
    /// Takes `ids`: returns one item per id.
    pub per_id: bool,
}

impl SchemaTypes {
    pub fn from_sdl(sdl: &str) -> Self {
        let mut fields = HashMap::new();
        let Ok(schema) = parse_schema(sdl) else {
            return Self { fields };
        };
        for definition in schema.definitions {
            let TypeSystemDefinition::Type(definition) = definition else {
                continue;
            };
            let definition = definition.node;
            let declared = match definition.kind {
                TypeKind::Object(object) => object.fields,
                TypeKind::Interface(interface) => interface.fields,
                _ => continue,
            };
            let own = declared
                .into_iter()
                .map(|field| {
                    let field = field.node;
                    let takes = |name: &str| {
                        field
                            .arguments
                            .iter()
                            .any(|argument| argument.node.name.node == name)
                    };
                    let def = FieldDef {
                        paged: takes("first"),
                        per_id: takes("ids"),
                        ty: field.ty.node,
                    };
                    (field.name.node.to_string(), def)
                })
                .collect();
            fields.insert(definition.name.node.to_string(), own);
        }
        Self { fields }
    }

    pub fn field(&self, parent: &str, name: &str) -> Option<&FieldDef> {
        self.fields.get(parent)?.get(name)
    }

    /// The named type `parent.name` returns, lists unwrapped; empty for a
    /// field the schema does not declare (introspection, or a mistake that
    /// validation reports).
    pub fn returns<'s>(&'s self, parent: &str, name: &str) -> &'s str {
        self.field(parent, name)
            .map_or("", |field| named(&field.ty.base))
    }
}

/// The type a list or named type is made of.
pub fn named(mut base: &BaseType) -> &str {
    loop {
        match base {
            BaseType::Named(name) => return name.as_str(),
            BaseType::List(inner) => base = &inner.base,
        }
    }
}

/// The operation a request runs, as async-graphql picks it.
pub fn operation<'d>(
    document: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<&'d Positioned<OperationDefinition>> {
    named_operation(document, name).map(|(_, operation)| operation)
}

/// The operation a request runs, with its name when it has one.
pub fn named_operation<'d>(
    document: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<(Option<&'d str>, &'d Positioned<OperationDefinition>)> {
    let mut operations = document
        .operations
        .iter()
        .map(|(name, operation)| (name.map(|name| name.as_str()), operation));
    match name {
        Some(name) => operations.find(|(candidate, _)| *candidate == Some(name)),
        None => operations.next(),
    }
}

pub fn root_type(operation: &OperationDefinition) -> &'static str {
    match operation.ty {
        OperationType::Query => "Query",
        OperationType::Mutation => "Mutation",
        OperationType::Subscription => "Subscription",
    }
}

/// Calls `visit` with each field `set` selects, fragments expanded, and the
/// type it is selected on (a fragment's type condition, else `on`). A
/// fragment that spreads itself is expanded once; validation refuses it.
pub fn each_field<'d>(
    document: &'d ExecutableDocument,
    set: &'d SelectionSet,
    on: &'d str,
    visit: &mut dyn FnMut(&'d Positioned<Field>, &'d str),
) {
    expand(document, set, on, visit, &mut Vec::new());
}

/// Like [`each_field`], but expands each fragment at most once in all the
/// walks that share `expanded`: for walks that gather a set (the kinds of
/// data a document reads), where expanding a fragment again adds nothing.
/// Its cost is bounded by the document's size however its fragments spread,
/// so it is safe before the document's shape has been checked.
pub fn each_field_once<'d>(
    document: &'d ExecutableDocument,
    set: &'d SelectionSet,
    on: &'d str,
    expanded: &mut HashSet<&'d str>,
    visit: &mut dyn FnMut(&'d Positioned<Field>, &'d str),
) {
    expand(document, set, on, visit, expanded);
}

/// Which fragment spreads a walk expands.
trait Expansion<'d> {
    /// Whether to expand the fragment `name` here; if so, it is entered.
    fn enter(&mut self, name: &'d str) -> bool;
    /// Leaves the fragment entered last.
    fn leave(&mut self);
}

/// The fragments being expanded, outermost first: every spread is expanded
/// except one inside its own expansion (a cycle).
impl<'d> Expansion<'d> for Vec<&'d str> {
    fn enter(&mut self, name: &'d str) -> bool {
        if self.contains(&name) {
            return false;
        }
        self.push(name);
        true
    }

    fn leave(&mut self) {
        self.pop();
    }
}

/// The fragments expanded so far: each is expanded once.
impl<'d> Expansion<'d> for HashSet<&'d str> {
    fn enter(&mut self, name: &'d str) -> bool {
        self.insert(name)
    }

    fn leave(&mut self) {}
}

fn expand<'d>(
    document: &'d ExecutableDocument,
    set: &'d SelectionSet,
    on: &'d str,
    visit: &mut dyn FnMut(&'d Positioned<Field>, &'d str),
    expanding: &mut impl Expansion<'d>,
) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => visit(field, on),
            Selection::InlineFragment(fragment) => {
                let on = fragment
                    .node
                    .type_condition
                    .as_ref()
                    .map_or(on, |condition| condition.node.on.node.as_str());
                expand(
                    document,
                    &fragment.node.selection_set.node,
                    on,
                    visit,
                    expanding,
                );
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                if let Some(fragment) = document.fragments.get(name)
                    && expanding.enter(name)
                {
                    let on = fragment.node.type_condition.node.on.node.as_str();
                    expand(
                        document,
                        &fragment.node.selection_set.node,
                        on,
                        visit,
                        expanding,
                    );
                    expanding.leave();
                }
            }
        }
    }
}

/// The value of an integer argument, literal or from a variable.
pub fn int_argument(
    field: &Field,
    name: &str,
    operation: &OperationDefinition,
    variables: &Variables,
) -> Option<i64> {
    match argument(field, name, operation, variables)? {
        async_graphql::Value::Number(number) => number.as_i64(),
        _ => None,
    }
}

/// How many items a list argument holds, literal or from a variable.
pub fn list_length(
    field: &Field,
    name: &str,
    operation: &OperationDefinition,
    variables: &Variables,
) -> usize {
    match argument(field, name, operation, variables) {
        Some(async_graphql::Value::List(items)) => items.len(),
        Some(async_graphql::Value::Null) | None => 0,
        Some(_) => 1,
    }
}

fn argument(
    field: &Field,
    name: &str,
    operation: &OperationDefinition,
    variables: &Variables,
) -> Option<async_graphql::Value> {
    let value = &field.get_argument(name)?.node;
    value
        .clone()
        .into_const_with(|variable| {
            variables
                .get(&variable)
                .cloned()
                .or_else(|| {
                    operation
                        .variable_definitions
                        .iter()
                        .find(|definition| definition.node.name.node == variable)
                        .and_then(|definition| definition.node.default_value())
                        .cloned()
                })
                .ok_or(())
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    #[test]
    fn fields_are_expanded_with_the_type_they_are_selected_on() {
        let document = parse_query(
            "{ node(id: 1) { id ... on User { username ...A } } }
             fragment A on User { bio ...A }",
        )
        .unwrap();
        let operation = operation(&document, None).unwrap();
        let mut root = Vec::new();
        each_field(
            &document,
            &operation.node.selection_set.node,
            "Query",
            &mut |field, on| root.push((field, on)),
        );
        let [(node, "Query")] = root.as_slice() else {
            panic!("one root field");
        };
        let mut seen = Vec::new();
        each_field(
            &document,
            &node.node.selection_set.node,
            "Node",
            &mut |field, on| seen.push(format!("{on}.{}", field.node.name.node)),
        );
        assert_eq!(seen, ["Node.id", "User.username", "User.bio"]);
    }

    #[test]
    fn the_schema_types_know_pages_and_nullability() {
        let types = SchemaTypes::from_sdl(&crate::graphql::sdl());
        let articles = types.field("Query", "articles").unwrap();
        assert!(articles.paged && !articles.ty.nullable);
        assert!(types.field("Query", "nodes").unwrap().per_id);
        assert!(types.field("User", "email").unwrap().ty.nullable);
        assert_eq!(types.returns("Article", "author"), "User");
        assert_eq!(types.returns("Query", "nodes"), "Node");
        assert_eq!(types.returns("Query", "__schema"), "");
    }
}

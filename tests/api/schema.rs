/// `schema.graphql` is what frontends generate clients from: it must be
/// exactly the schema the code serves. Regenerate with
/// `cargo run -- schema > schema.graphql`.
#[test]
fn committed_schema_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql exists");
    let served = folio::graphql::sdl();
    assert!(
        committed == served,
        "schema.graphql is stale: run `cargo run -- schema > schema.graphql`"
    );
}

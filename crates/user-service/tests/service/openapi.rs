//! `docs/openapi.json` is the committed copy of the generated document: this fails when
//! the code changed and the copy did not (or the other way round).

#[test]
fn committed_openapi_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let committed = std::fs::read_to_string(&path).expect("docs/openapi.json exists");
    let generated = user_service::routes::openapi::document();
    assert!(
        committed.trim() == generated.trim(),
        "docs/openapi.json is stale; regenerate it with\n  cargo run -p user-service -- openapi > docs/openapi.json"
    );
    let document: serde_json::Value =
        serde_json::from_str(generated).expect("the document is JSON");
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|version| version.starts_with("3.1"))
    );
    for path in ["/users", "/users/{id}"] {
        assert!(
            document["paths"].get(path).is_some(),
            "{path} is documented"
        );
    }
}

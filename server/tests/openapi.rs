//! The OpenAPI document the server serves lists exactly the routes its router has: every
//! route of the router is documented with its method, and every documented operation is a
//! route, so neither can drift from the other.

use std::collections::BTreeSet;
use std::sync::Arc;

use opsledger_app::store::SqliteStore;
use opsledger_app::{SystemClock, Target};
use opsledger_server::{api, Limits, ServeConfig};
use serde_json::Value;

#[tokio::test]
async fn the_served_document_and_the_router_list_the_same_routes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.ledger");
    drop(SqliteStore::create_new(&path).unwrap());
    let mut running = opsledger_server::start(ServeConfig {
        target: Target::File(path),
        listen: "127.0.0.1:0".parse().unwrap(),
        clock: Arc::new(SystemClock),
        limits: Limits::default(),
        secure_cookies: false,
    })
    .await
    .unwrap();
    // The document is public: it describes the API, it holds no ledger data.
    let response = reqwest::get(format!("{}/api/v1/openapi.json", running.url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            assert!(
                operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path} has no summary"
            );
            // Every path parameter of the template is declared, and no other.
            let in_template: BTreeSet<&str> = path
                .split('/')
                .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            let declared: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert_eq!(in_template, declared, "{method} {path}");
            documented.insert((method.clone(), path.clone()));
        }
    }
    let routed: BTreeSet<(String, String)> = opsledger_server::api_routes()
        .into_iter()
        .map(|r| (r.method.to_owned(), format!("{}{}", api::PREFIX, r.path)))
        .collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the document: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:?}"
    );
    assert!(
        routed.len() >= 9,
        "the router lists {} routes",
        routed.len()
    );
    running.stop().await.unwrap();
}

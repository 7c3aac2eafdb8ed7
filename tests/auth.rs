//! Authentication, scopes and organisation isolation through the real binary and a real
//! HTTP client; the loopback rule without tokens; the OpenAPI document.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::server::Server;
use common::*;
use reqwest::blocking::Response;
use reqwest::Method;
use serde_json::{json, Value};

const CONFIG: &str = r#"
[[organizations]]
slug = "acme"
[[organizations.projects]]
id = 1
slug = "backend"
platform = "python"

[[organizations]]
slug = "globex"
[[organizations.projects]]
id = 2
slug = "web"

[[tokens]]
token = "acme-read-0123456789"
organization = "acme"
scopes = ["event:read"]
user = "alice@example.com"

[[tokens]]
token = "acme-write-0123456789"
organization = "acme"
scopes = ["event:write"]

[[tokens]]
token = "acme-admin-0123456789"
organization = "acme"
scopes = ["event:admin"]
user = "bob@example.com"

[[tokens]]
token = "globex-read-0123456789"
organization = "globex"
scopes = ["event:read"]
"#;

const ACME_READ: &str = "acme-read-0123456789";
const ACME_WRITE: &str = "acme-write-0123456789";
const ACME_ADMIN: &str = "acme-admin-0123456789";
const GLOBEX_READ: &str = "globex-read-0123456789";

impl Server {
    fn call(&self, method: Method, path: &str, token: Option<&str>) -> Response {
        let is_put = method == Method::PUT;
        let mut request = self.client.request(method, format!("{}{}", self.base, path));
        if is_put {
            // A harmless mutation: the caller has seen the issues.
            request = request.json(&serde_json::json!({"hasSeen": true}));
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().expect("request")
    }

    fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.call(Method::GET, path, token)
    }

    fn status(&self, method: Method, path: &str, token: Option<&str>) -> u16 {
        self.call(method, path, token).status().as_u16()
    }

    fn json(&self, path: &str, token: &str) -> Value {
        let response = self.get(path, Some(token));
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().expect("JSON body")
    }
}

/// `occurrent run` on `args`, listening on `host` at a free port; waits for /readyz.
fn start(host: &str, args: &[&str]) -> Server {
    Server::start(host, args)
}

/// One error event in project 1 (acme) and one in project 2 (globex), with an event store.
fn inputs(dir: &Path) -> Vec<String> {
    let event = |n: u64, project: u64, kind: &str| {
        json!({
            "event_id": uuid(0xe000 + n),
            "project_id": project,
            "timestamp": T0 + n as f64,
            "platform": "python",
            "exception": {"values": [{"type": kind, "value": "boom", "stacktrace": {"frames": [
                {"function": "handler", "module": "app.views", "filename": "app/views.py", "in_app": true}
            ]}}]},
        })
    };
    let input = write_lines(
        dir,
        "events.jsonl",
        &to_lines(&[event(1, 1, "AcmeError"), event(2, 2, "GlobexError")]),
    );
    let config = dir.join("occurrent.toml");
    std::fs::write(&config, CONFIG).expect("write config");
    [
        "--input",
        input.to_str().unwrap(),
        "--input-format",
        "events",
        "--event-store",
        dir.join("store").to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

fn detail(response: Response) -> String {
    let body: Value = response.json().expect("JSON error body");
    body["detail"].as_str().expect("detail").to_owned()
}

/// The only issue the token sees in its organisation: (id, shortId, latest event id).
fn only_issue(server: &Server, org: &str, token: &str) -> (String, String, String) {
    let list = server.json(&format!("/api/0/organizations/{org}/issues/?query="), token);
    let list = list.as_array().expect("list");
    assert_eq!(list.len(), 1, "{org} sees only its own issue: {list:?}");
    let id = list[0]["id"].as_str().unwrap().to_owned();
    let short_id = list[0]["shortId"].as_str().unwrap().to_owned();
    let event = server.json(&format!("/api/0/organizations/{org}/issues/{id}/events/latest/"), token);
    (id, short_id, event["eventID"].as_str().unwrap().to_owned())
}

#[test]
fn tokens_scopes_and_organizations() {
    let dir = temp_dir();
    let args = inputs(dir.path());
    let server = start("127.0.0.1", &args.iter().map(String::as_str).collect::<Vec<_>>());
    let acme = "/api/0/organizations/acme";
    let globex = "/api/0/organizations/globex";

    // Operational endpoints and the API description need no token.
    for path in ["/healthz", "/readyz", "/metrics", "/api/0/openapi.json"] {
        assert_eq!(server.status(Method::GET, path, None), 200, "{path}");
    }

    // 401: no token, another scheme, an unknown token.
    let response = server.get(&format!("{acme}/issues/"), None);
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer realm=\"api\"");
    assert_eq!(detail(response), "Authentication credentials were not provided.");
    let basic = server
        .client
        .get(format!("{}{acme}/issues/", server.base))
        .basic_auth("acme", Some(ACME_READ))
        .send()
        .unwrap();
    assert_eq!(basic.status(), 401);
    let response = server.get(&format!("{acme}/issues/"), Some("acme-read-012345678"));
    assert_eq!(response.status(), 401);
    assert_eq!(detail(response), "Invalid token");

    // 200 for each organisation's own reads, which see only their own issue.
    let (acme_id, acme_short, acme_event) = only_issue(&server, "acme", ACME_READ);
    let (globex_id, globex_short, globex_event) = only_issue(&server, "globex", GLOBEX_READ);
    assert!(acme_short.starts_with("BACKEND-"), "{acme_short}");
    let own_reads = [
        format!("{acme}/issues/?query=is:unresolved&sort=new&limit=1"),
        format!("{acme}/issues/{acme_id}/"),
        format!("{acme}/issues/{acme_short}/"),
        format!("{acme}/issues-count/?query="),
        format!("{acme}/issues/{acme_id}/events/latest/"),
        format!("{acme}/issues/{acme_id}/events/{acme_event}/"),
    ];
    for path in &own_reads {
        for token in [ACME_READ, ACME_WRITE, ACME_ADMIN] {
            assert_eq!(server.status(Method::GET, path, Some(token)), 200, "GET {path}");
        }
    }
    assert_eq!(server.json(&format!("{acme}/issues-count/?query="), ACME_READ), json!({"": 1}));
    assert_eq!(
        server.json(&format!("{acme}/issues/{acme_id}/"), ACME_READ)["project"]["slug"],
        "backend"
    );

    // 404 for every read of the other organisation: through its path (the middleware) …
    let globex_reads = [
        format!("{globex}/issues/"),
        format!("{globex}/issues/{globex_id}/"),
        format!("{globex}/issues/{globex_short}/"),
        format!("{globex}/issues-count/?query="),
        format!("{globex}/issues/{globex_id}/events/latest/"),
        format!("{globex}/issues/{globex_id}/events/{globex_event}/"),
    ];
    for path in &globex_reads {
        assert_eq!(server.status(Method::GET, path, Some(GLOBEX_READ)), 200, "GET {path} as globex");
        for token in [ACME_READ, ACME_ADMIN] {
            let response = server.get(path, Some(token));
            assert_eq!(response.status(), 404, "GET {path}");
            assert_eq!(detail(response), "The requested resource does not exist");
        }
    }
    // … and through its own organisation's path with the other's ids (the handlers).
    for path in [
        format!("{acme}/issues/{globex_id}/"),
        format!("{acme}/issues/{globex_short}/"),
        format!("{acme}/issues/{globex_id}/events/latest/"),
        format!("{acme}/issues/{globex_id}/events/{globex_event}/"),
        format!("{acme}/issues/{acme_id}/events/{globex_event}/"),
    ] {
        assert_eq!(server.status(Method::GET, &path, Some(ACME_ADMIN)), 404, "GET {path}");
    }
    // Unknown organisations look the same as others'.
    assert_eq!(
        server.status(Method::GET, "/api/0/organizations/initech/issues/", Some(ACME_READ)),
        404
    );

    // Writes: another organisation is 404 whatever the scope; a missing scope is 403.
    let bulk = |org: &str| format!("/api/0/organizations/{org}/issues/?id={acme_id}");
    for method in [Method::PUT, Method::DELETE] {
        for token in [ACME_READ, ACME_ADMIN] {
            assert_eq!(
                server.status(method.clone(), &bulk("globex"), Some(token)),
                404,
                "{method} as {token}"
            );
        }
    }
    for (method, token) in [(Method::PUT, ACME_READ), (Method::DELETE, ACME_READ), (Method::DELETE, ACME_WRITE)] {
        let response = server.call(method.clone(), &bulk("acme"), Some(token));
        assert_eq!(response.status(), 403, "{method} as {token}");
        assert_eq!(detail(response), "You do not have permission to perform this action.");
    }
    // Allowed writes reach the handlers (200, or 204 when nothing matches).
    for (method, token) in [(Method::PUT, ACME_WRITE), (Method::PUT, ACME_ADMIN), (Method::DELETE, ACME_ADMIN)] {
        let status = server.status(method.clone(), &bulk("acme"), Some(token));
        assert!([200, 204].contains(&status), "{method} as {token}: {status}");
    }
    // `discard` needs event:admin even though PUT needs only event:write.
    let discard = server
        .client
        .put(format!("{}{}", server.base, bulk("acme")))
        .bearer_auth(ACME_WRITE)
        .json(&serde_json::json!({"discard": true}))
        .send()
        .expect("request");
    assert_eq!(discard.status(), 403);
}

#[test]
fn openapi_document_lists_the_served_paths() {
    let dir = temp_dir();
    let args = inputs(dir.path());
    let server = start("127.0.0.1", &args.iter().map(String::as_str).collect::<Vec<_>>());
    let response = server.get("/api/0/openapi.json", None);
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let doc: Value = response.json().expect("openapi.json is JSON");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", doc["openapi"]);
    let org = "/api/0/organizations/{org}";
    let served = [
        (format!("{org}/issues/"), vec!["get", "put", "delete"]),
        (format!("{org}/issues/{{id}}/"), vec!["get"]),
        (format!("{org}/issues-count/"), vec!["get"]),
        (format!("{org}/issues/{{id}}/events/latest/"), vec!["get"]),
        (format!("{org}/issues/{{id}}/events/{{event_id}}/"), vec!["get"]),
        ("/api/0/openapi.json".to_owned(), vec!["get"]),
        ("/healthz".to_owned(), vec!["get"]),
        ("/readyz".to_owned(), vec!["get"]),
        ("/metrics".to_owned(), vec!["get"]),
    ];
    for (path, methods) in &served {
        for method in methods {
            assert!(doc["paths"][path][method].is_object(), "{method} {path} is not documented");
        }
    }
    assert_eq!(doc["paths"].as_object().unwrap().len(), served.len(), "undocumented or stale paths");
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["type"], "http");
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert_eq!(doc["security"], json!([{"bearer": []}]));
    let list = &doc["paths"][format!("{org}/issues/")]["get"];
    let params: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in ["org", "query", "sort", "limit", "cursor"] {
        assert!(params.contains(&name), "list parameter {name} missing: {params:?}");
    }
    let body = &doc["paths"][format!("{org}/issues/")]["put"]["requestBody"];
    assert!(body.to_string().contains("BulkMutation"), "{body}");
    let mutation = &doc["components"]["schemas"]["BulkMutation"]["properties"];
    for field in [
        "status",
        "substatus",
        "statusDetails",
        "priority",
        "assignedTo",
        "hasSeen",
        "isBookmarked",
        "merge",
        "discard",
    ] {
        assert!(mutation[field].is_object(), "BulkMutation.{field} missing");
    }
    let group = &doc["components"]["schemas"]["SerializedGroup"]["properties"];
    assert_eq!(group["count"]["type"], "string");
    assert!(group["shortId"].is_object());
}

/// Runs `occurrent run` expecting it to exit by itself; returns (success, stderr).
fn run_to_exit(args: &[&str]) -> (bool, String) {
    let mut child = Command::new(BIN)
        .arg("run")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start occurrent run");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("occurrent run {args:?} kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn without_tokens_only_loopback_unless_insecure() {
    let dir = temp_dir();
    let input = write_lines(dir.path(), "in.jsonl", &to_lines(&[occurrence(1, 1, "f", 4001, T0, json!({}))]));
    let input = input.to_str().unwrap();
    let no_tokens = dir.path().join("no-tokens.toml");
    std::fs::write(
        &no_tokens,
        "[[organizations]]\nslug = \"acme\"\n[[organizations.projects]]\nid = 1\nslug = \"backend\"\n",
    )
    .unwrap();
    let no_tokens = no_tokens.to_str().unwrap();

    for config in [None, Some(no_tokens)] {
        let mut args = vec!["--input", input, "--listen", "0.0.0.0:0", "--workers", "1"];
        if let Some(config) = config {
            args.extend(["--config", config]);
        }
        let (success, stderr) = run_to_exit(&args);
        assert!(!success, "a non-loopback address without tokens must be refused");
        assert!(stderr.contains("refusing to listen on 0.0.0.0:0"), "{stderr}");
        assert!(stderr.contains("--insecure"), "{stderr}");
    }

    // With --insecure it serves anonymously, every scope.
    let server = start("0.0.0.0", &["--input", input, "--config", no_tokens, "--insecure"]);
    let list = server.get("/api/0/organizations/acme/issues/", None);
    assert_eq!(list.status(), 200);
    assert_eq!(list.json::<Value>().unwrap().as_array().map(Vec::len), Some(1));
    // Anonymous callers have every scope: a DELETE without ids deletes by the default query.
    assert_eq!(server.status(Method::DELETE, "/api/0/organizations/acme/issues/", None), 204);
    drop(server);

    // Loopback without tokens: anonymous access, any organisation of the configuration.
    let server = start("127.0.0.1", &["--input", input, "--config", no_tokens]);
    assert_eq!(server.status(Method::GET, "/api/0/organizations/acme/issues/", None), 200);
}

#[test]
fn with_tokens_any_address_is_accepted() {
    let dir = temp_dir();
    let args = inputs(dir.path());
    let server = start("0.0.0.0", &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(server.status(Method::GET, "/api/0/organizations/acme/issues/", None), 401);
    assert_eq!(
        server.status(Method::GET, "/api/0/organizations/acme/issues/", Some(ACME_READ)),
        200
    );
}

#[test]
fn invalid_token_configurations_are_refused() {
    let dir = temp_dir();
    let input = write_lines(dir.path(), "in.jsonl", &to_lines(&[occurrence(1, 1, "f", 4001, T0, json!({}))]));
    let org = "[[organizations]]\nslug = \"acme\"\n";
    let cases = [
        ("[[tokens]]\ntoken = \"t\"\norganization = \"globex\"\nscopes = [\"event:read\"]\n", "not declared"),
        ("[[tokens]]\ntoken = \"t\"\norganization = \"acme\"\nscopes = [\"org:admin\"]\n", "unknown variant"),
        ("[[tokens]]\ntoken = \"t\"\norganization = \"acme\"\nscopes = []\n", "no scopes"),
        ("[[tokens]]\ntoken = \"t\"\norganization = \"acme\"\nscopes = [\"event:read\"]\nrole = \"x\"\n", "unknown field"),
        ("[[tokens]]\ntoken = \"a b\"\norganization = \"acme\"\nscopes = [\"event:read\"]\n", "without spaces"),
        (
            "[[tokens]]\ntoken = \"t\"\norganization = \"acme\"\nscopes = [\"event:read\"]\n[[tokens]]\ntoken = \"t\"\norganization = \"acme\"\nscopes = [\"event:admin\"]\n",
            "declared twice",
        ),
    ];
    for (tokens, message) in cases {
        let config = dir.path().join("bad.toml");
        std::fs::write(&config, format!("{org}{tokens}")).unwrap();
        let (success, stderr) = run_to_exit(&[
            "--input",
            input.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ]);
        assert!(!success, "{tokens}");
        assert!(stderr.contains(message), "{tokens}: {stderr}");
    }
}

#[test]
fn bookmarks_seen_and_me_are_per_user() {
    let dir = temp_dir();
    let args = inputs(dir.path());
    let server = start("127.0.0.1", &args.iter().map(String::as_str).collect::<Vec<_>>());
    let list = server.json("/api/0/organizations/acme/issues/?query=", ACME_ADMIN);
    let id = list[0]["id"].as_str().expect("an acme issue").to_string();
    let put = server
        .client
        .put(format!("{}/api/0/organizations/acme/issues/?id={id}", server.base))
        .bearer_auth(ACME_ADMIN)
        .json(&serde_json::json!({"isBookmarked": true, "assignedTo": "me"}))
        .send()
        .expect("request");
    assert_eq!(put.status(), 200);
    let bob = server.json(&format!("/api/0/organizations/acme/issues/{id}/"), ACME_ADMIN);
    let alice = server.json(&format!("/api/0/organizations/acme/issues/{id}/"), ACME_READ);
    assert_eq!(
        (bob["isBookmarked"].as_bool(), alice["isBookmarked"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(bob["assignedTo"]["id"], "bob@example.com");
    assert_eq!(
        alice["assignedTo"]["email"], "bob@example.com",
        "the assignee is the same for everyone"
    );
    let mine = |token: &str| {
        server
            .json("/api/0/organizations/acme/issues/?query=bookmarks:me", token)
            .as_array()
            .map(Vec::len)
    };
    assert_eq!((mine(ACME_ADMIN), mine(ACME_READ)), (Some(1), Some(0)));
    let assigned = server.json("/api/0/organizations/acme/issues/?query=assigned:bob@example.com", ACME_READ);
    assert_eq!(assigned.as_array().map(Vec::len), Some(1));
}

//! An `environment=` the organisation has never seen (Sentry's `get_environments` →
//! `ResourceDoesNotExist`): 404 with Sentry's body on the issues list, issues-count and
//! issue details, also when only one of several names is unknown or the name belongs to
//! another organisation; known names (also of a deleted group) and the empty name answer 200.

mod common;
#[path = "common/list_client.rs"]
mod list_client;

use common::*;
use list_client::*;

#[test]
fn unknown_environments_are_404_per_organisation() {
    let dir = temp_dir();
    let config = two_organizations_config(dir.path());
    let messages = [
        message(1, &ev("a", NOW - H, None, Some("prod"))),
        message(2, &ev("a", NOW - 2 * H, None, Some("staging"))),
        message(
            3,
            &Ev {
                project: 2,
                ..ev("b", NOW - H, None, Some("qa"))
            },
        ),
    ];
    let input = write_lines(dir.path(), "in.jsonl", &to_lines(&messages));
    let server = start(&["--input", input.to_str().unwrap(), "--config", config.to_str().unwrap()]);
    let id = list_in(&server, "acme", "").body[0]["id"].as_str().expect("an id").to_string();
    let endpoints = [
        "/api/0/organizations/acme/issues/?query=".to_string(),
        "/api/0/organizations/acme/issues-count/?query=".to_string(),
        format!("/api/0/organizations/acme/issues/{id}/?x=1"),
    ];
    for endpoint in &endpoints {
        for unknown in ["&environment=nope", "&environment=prod&environment=nope", "&environment=qa"] {
            let reply = get(&server, &format!("{endpoint}{unknown}"));
            assert_eq!(
                (reply.status, reply.body["detail"].as_str()),
                (404, Some("The requested resource does not exist")),
                "{endpoint}{unknown}"
            );
        }
        for known in ["&environment=prod", "&environment=prod&environment=staging", "&environment="] {
            assert_eq!(get(&server, &format!("{endpoint}{known}")).status, 200, "{endpoint}{known}");
        }
    }
    // The environment filters as before.
    assert_eq!(titles(&list_in(&server, "acme", "query=&environment=staging")), ["title a"]);
    assert_eq!(titles(&list_in(&server, "other", "query=&environment=qa")), ["title b"]);
}

//! The notes route on the app started by `kit::testing` (port 0, a fresh embedded
//! database): what it stores is what it reads back, and its scopes and validation hold.
//! Health, metrics, limits and shutdown are the kit's, tested in the kit.

use serde_json::{Value, json};

async fn app() -> kit::testing::TestApp {
    kit::testing::spawn(&notes::MIGRATOR, |_: &mut notes::Settings| {}, notes::build).await
}

#[tokio::test]
async fn a_written_note_reads_back_with_its_author() {
    let app = app().await;
    let client = reqwest::Client::new();
    let created = client
        .post(app.url("/notes"))
        .bearer_auth(app.token("notes:write"))
        .json(&json!({ "text": "buy milk" }))
        .send()
        .await
        .expect("the service answers");
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.expect("a JSON note");
    assert_eq!(created["text"], "buy milk");
    assert_eq!(created["author"], "test");
    let id = created["id"].as_str().expect("the note has an id");

    let read = client
        .get(app.url(&format!("/notes/{id}")))
        .bearer_auth(app.token("notes:read"))
        .send()
        .await
        .expect("the service answers");
    assert_eq!(read.status(), 200);
    let read: Value = read.json().await.expect("a JSON note");
    assert_eq!(read, created, "the stored note is the created one");

    let missing = client
        .get(app.url(&format!("/notes/{}", uuid::Uuid::nil())))
        .bearer_auth(app.token("notes:read"))
        .send()
        .await
        .expect("the service answers");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn tokens_scopes_and_bodies_are_checked() {
    let app = app().await;
    let client = reqwest::Client::new();
    let post = |token: Option<String>, body: Value| {
        let mut request = client.post(app.url("/notes")).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let note = json!({ "text": "a note" });
    let status = |response: reqwest::Result<reqwest::Response>| {
        response.expect("the service answers").status().as_u16()
    };
    assert_eq!(status(post(None, note.clone()).await), 401, "no token");
    assert_eq!(
        status(post(Some(app.token("notes:read")), note.clone()).await),
        403,
        "a reader cannot write"
    );
    let writer = Some(app.token("notes:write"));
    assert_eq!(
        status(post(writer.clone(), json!({ "text": 7 })).await),
        422
    );
    assert_eq!(
        status(post(writer.clone(), json!({ "text": "  " })).await),
        422
    );
    let too_long = "x".repeat(notes::NotesSettings::default().max_chars + 1);
    assert_eq!(status(post(writer, json!({ "text": too_long })).await), 422);
    let read = client
        .get(app.url(&format!("/notes/{}", uuid::Uuid::nil())))
        .bearer_auth(app.token("notes:write"))
        .send()
        .await;
    assert_eq!(status(read), 403, "a writer cannot read");
}

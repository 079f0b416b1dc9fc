//! Concurrent writes racing for one email or one id: each request gets its own answer,
//! whatever the implementation shares between them (the Rust service puts concurrent
//! creates in one multi-row insert, and concurrent PATCHes and DELETEs in one statement
//! each), and exactly one of them wins.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::Target;
use crate::http::{Call, Reply, client, get};
use crate::json::unique_email;
use crate::tokens::rw;

/// How many requests race.
const RACERS: usize = 64;

/// Sends `bodies` as `POST /users` all at once; the replies in the same order.
async fn race(target: &Target, bodies: Vec<Value>) -> Vec<Reply> {
    let requests = bodies
        .into_iter()
        .map(|body| ("POST", "/users".to_owned(), Some(body)))
        .collect();
    race_requests(target, requests).await
}

/// Sends `requests` (method, path, JSON body) all at once (each on its own connection,
/// released together); the replies in the same order.
async fn race_requests(
    target: &Target,
    requests: Vec<(&'static str, String, Option<Value>)>,
) -> Vec<Reply> {
    let target = Arc::new(target.clone());
    let token = Arc::new(rw(&target));
    let client = client();
    let start = Arc::new(Barrier::new(requests.len()));
    let racers: Vec<_> = requests
        .into_iter()
        .map(|(method, path, body)| {
            let (target, token, client, start) =
                (target.clone(), token.clone(), client.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let call = Call::new(&target, method, &path).bearer(&token);
                let call = match &body {
                    Some(body) => call.json(body),
                    None => call,
                };
                call.send_with(&client).await
            })
        })
        .collect();
    let mut replies = Vec::with_capacity(racers.len());
    for racer in racers {
        replies.push(racer.await.expect("a racing request does not panic"));
    }
    replies
}

fn count(replies: &[Reply], status: u16) -> usize {
    replies
        .iter()
        .filter(|reply| reply.status == status)
        .count()
}

fn statuses(replies: &[Reply]) -> Vec<u16> {
    replies.iter().map(|reply| reply.status).collect()
}

/// 64 creates of one new email, each with its own id: one 201, 63 × 409, and only the
/// winner's id exists.
pub async fn races_one_email(target: &Target) {
    let email = unique_email("race-email");
    let ids: Vec<String> = (0..RACERS)
        .map(|_| uuid::Uuid::now_v7().to_string())
        .collect();
    let bodies = ids
        .iter()
        .map(|id| json!({ "id": id, "email": email }))
        .collect();
    let replies = race(target, bodies).await;
    assert_eq!(
        (count(&replies, 201), count(&replies, 409)),
        (1, RACERS - 1),
        "[{}] 64 creates of one email: one 201 and 63 × 409, got {:?}",
        target.name,
        statuses(&replies)
    );
    for (id, reply) in ids.iter().zip(&replies) {
        let stored = get(target, &format!("/users/{id}"))
            .bearer(&rw(target))
            .send()
            .await;
        let expected = if reply.status == 201 { 200 } else { 404 };
        assert_eq!(
            stored.status, expected,
            "[{}] GET of a racer's id after a {}: only the winner's user exists",
            target.name, reply.status
        );
    }
}

/// 64 creates of one id with the same email: one 201 and 63 × 200, all the same user.
pub async fn races_one_id_same_email(target: &Target) {
    let id = uuid::Uuid::now_v7().to_string();
    let email = unique_email("race-retry");
    let bodies = (0..RACERS)
        .map(|_| json!({ "id": id, "email": email }))
        .collect();
    let replies = race(target, bodies).await;
    assert_eq!(
        (count(&replies, 201), count(&replies, 200)),
        (1, RACERS - 1),
        "[{}] 64 creates of one id and email: one 201 and 63 × 200, got {:?}",
        target.name,
        statuses(&replies)
    );
    let stored = get(target, &format!("/users/{id}"))
        .bearer(&rw(target))
        .send()
        .await;
    stored.assert_status(200);
    let stored = stored.json();
    for reply in &replies {
        assert_eq!(
            reply.json(),
            stored,
            "[{}] every answer is the one stored user (one row, the same created_at)",
            target.name
        );
    }
}

/// 64 creates of one id with 64 emails: one 201 and 63 × 409, and the stored user has
/// the winner's email.
pub async fn races_one_id_many_emails(target: &Target) {
    let id = uuid::Uuid::now_v7().to_string();
    let emails: Vec<String> = (0..RACERS).map(|_| unique_email("race-id")).collect();
    let bodies = emails
        .iter()
        .map(|email| json!({ "id": id, "email": email }))
        .collect();
    let replies = race(target, bodies).await;
    assert_eq!(
        (count(&replies, 201), count(&replies, 409)),
        (1, RACERS - 1),
        "[{}] 64 creates of one id with 64 emails: one 201 and 63 × 409, got {:?}",
        target.name,
        statuses(&replies)
    );
    let winner = replies
        .iter()
        .zip(&emails)
        .find(|(reply, _)| reply.status == 201)
        .map(|(_, email)| email.clone());
    let stored = get(target, &format!("/users/{id}"))
        .bearer(&rw(target))
        .send()
        .await;
    stored.assert_status(200);
    assert_eq!(
        stored.json()["email"].as_str().map(str::to_owned),
        winner,
        "[{}] the stored user has the email of the one 201",
        target.name
    );
}

/// 64 users PATCHed at once to one new email: one 200, 63 × 409, and only the winner
/// has the email.
pub async fn races_patch_one_email(target: &Target) {
    let mut ids = Vec::with_capacity(RACERS);
    for _ in 0..RACERS {
        let user = crate::users::create(target, &unique_email("race-patch-from")).await;
        ids.push(user["id"].as_str().expect("an id").to_owned());
    }
    let email = unique_email("race-patch");
    let requests = ids
        .iter()
        .map(|id| {
            (
                "PATCH",
                format!("/users/{id}"),
                Some(json!({ "email": email })),
            )
        })
        .collect();
    let replies = race_requests(target, requests).await;
    assert_eq!(
        (count(&replies, 200), count(&replies, 409)),
        (1, RACERS - 1),
        "[{}] 64 PATCHes to one email: one 200 and 63 × 409, got {:?}",
        target.name,
        statuses(&replies)
    );
    for (id, reply) in ids.iter().zip(&replies) {
        let stored = get(target, &format!("/users/{id}"))
            .bearer(&rw(target))
            .send()
            .await;
        stored.assert_status(200);
        let has_it = stored.json()["email"].as_str() == Some(email.as_str());
        assert_eq!(
            has_it,
            reply.status == 200,
            "[{}] only the user whose PATCH got 200 has the email",
            target.name
        );
    }
}

/// 64 DELETEs of one user at once: one 204 and 63 × 404, and the user is gone.
pub async fn races_delete_one_id(target: &Target) {
    let user = crate::users::create(target, &unique_email("race-delete")).await;
    let path = format!("/users/{}", user["id"].as_str().expect("an id"));
    let requests = (0..RACERS)
        .map(|_| ("DELETE", path.clone(), None))
        .collect();
    let replies = race_requests(target, requests).await;
    assert_eq!(
        (count(&replies, 204), count(&replies, 404)),
        (1, RACERS - 1),
        "[{}] 64 DELETEs of one id: one 204 and 63 × 404, got {:?}",
        target.name,
        statuses(&replies)
    );
    get(target, &path)
        .bearer(&rw(target))
        .send()
        .await
        .assert_status(404);
}

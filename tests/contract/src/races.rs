//! Concurrent creates racing for one email or one id: each request gets its own answer,
//! whatever the implementation shares between them (the Rust service puts concurrent
//! creates in one multi-row insert), and exactly one of them wins.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::Target;
use crate::http::{Reply, client, get, post};
use crate::json::unique_email;
use crate::tokens::rw;

/// How many creates race.
const RACERS: usize = 64;

/// Sends `bodies` as `POST /users` all at once (each on its own connection, released
/// together); the replies in the same order.
async fn race(target: &Target, bodies: Vec<Value>) -> Vec<Reply> {
    let target = Arc::new(target.clone());
    let token = Arc::new(rw(&target));
    let client = client();
    let start = Arc::new(Barrier::new(bodies.len()));
    let racers: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let (target, token, client, start) =
                (target.clone(), token.clone(), client.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                post(&target, "/users")
                    .bearer(&token)
                    .json(&body)
                    .send_with(&client)
                    .await
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

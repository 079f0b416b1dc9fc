//! `user-service seed --users N`: bulk-inserts users through `COPY`, the fastest way
//! into PostgreSQL, in batches so memory stays flat however many are asked for.
//! Emails carry a random run tag, so seeding twice never collides.

use std::io::Write;
use std::path::Path;

use rand::Rng;
use uuid::Uuid;

use kit::db::Database;

/// Rows per `COPY` batch.
const BATCH: u64 = 50_000;

pub struct SeedReport {
    pub inserted: u64,
    pub elapsed: std::time::Duration,
}

/// Inserts `count` users; writes their ids, one per line, to `ids_file` when given.
pub async fn seed(
    database: &Database,
    count: u64,
    ids_file: Option<&Path>,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<SeedReport> {
    let started = std::time::Instant::now();
    let tag: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(8)
        .map(|byte| char::from(byte).to_ascii_lowercase())
        .collect();
    let mut ids = match ids_file {
        Some(path) => Some(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => None,
    };
    let mut connection = database.acquire().await?;
    let mut inserted = 0;
    while inserted < count {
        let batch = BATCH.min(count - inserted);
        let mut rows = Vec::with_capacity(batch as usize * 64);
        for n in inserted..inserted + batch {
            let id = Uuid::now_v7();
            writeln!(rows, "{id}\tseed-{tag}-{n}@example.com")?;
            if let Some(ids) = ids.as_mut() {
                writeln!(ids, "{id}")?;
            }
        }
        let mut copy = connection
            .copy_in_raw("COPY users (id, email) FROM STDIN")
            .await?;
        copy.send(rows).await?;
        copy.finish().await?;
        inserted += batch;
        progress(inserted);
    }
    if let Some(mut ids) = ids {
        ids.flush()?;
    }
    Ok(SeedReport {
        inserted,
        elapsed: started.elapsed(),
    })
}

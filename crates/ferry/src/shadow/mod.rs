//! `ferry shadow`: does the new service answer like the old one? Requests from a file
//! ([`replay`]) or live traffic ([`proxy`]) go to a primary and a secondary copy of the old
//! service and to the candidate; responses are compared field by field ([`diff`]), and a
//! field is a regression only when the candidate differs from the primary clearly more often
//! than the secondary does ([`noise`]). The results are one report ([`report`]): terminal
//! lines, JSON and a self-contained HTML page, and the exit status.

pub mod client;
pub mod diff;
pub mod endpoint;
pub mod example;
pub mod grouping;
pub mod noise;
pub mod progress;
pub mod proxy;
pub mod replay;
pub mod report;
pub mod request;
pub mod response;
pub mod routes;
pub mod source;
pub mod tally;
pub mod tls;

use std::path::PathBuf;
use std::time::Duration;

use crate::load::TlsOptions;
use client::{SendOptions, ShadowClient, Upstream};
use noise::FieldGlob;
use report::TargetUrls;
use request::ShadowRequest;
use routes::RouteTemplates;
use tally::Outcome;

/// The targets of a run.
#[derive(Debug, Clone)]
pub struct ShadowTargets {
    pub primary: Upstream,
    pub secondary: Option<Upstream>,
    pub candidate: Upstream,
}

impl ShadowTargets {
    /// Every target, primary first.
    pub fn all(&self) -> impl Iterator<Item = &Upstream> {
        std::iter::once(&self.primary)
            .chain(self.secondary.as_ref())
            .chain(std::iter::once(&self.candidate))
    }

    /// Sends `request` to the secondary (when there is one) and the candidate, concurrently.
    pub async fn send_to_mirrors(
        &self,
        client: &ShadowClient,
        request: &ShadowRequest,
    ) -> (Option<Outcome>, Outcome) {
        let secondary = async {
            match &self.secondary {
                Some(secondary) => Some(client.send(secondary, request).await),
                None => None,
            }
        };
        tokio::join!(secondary, client.send(&self.candidate, request))
    }

    /// Their URLs, for the report.
    pub fn urls(&self) -> TargetUrls {
        TargetUrls {
            primary: self.primary.url.clone(),
            secondary: self.secondary.as_ref().map(|target| target.url.clone()),
            candidate: self.candidate.url.clone(),
        }
    }
}

/// Settings shared by replay and proxy.
#[derive(Debug, Clone)]
pub struct ShadowSettings {
    pub targets: ShadowTargets,
    pub send: SendOptions,
    /// `--cacert`, `--insecure`, `--cert` and `--key`, for the `https://` targets.
    pub tls: TlsOptions,
    /// `--template`: route templates that name the endpoints, before any other rule.
    pub templates: RouteTemplates,
    /// Send POST, PUT, PATCH and DELETE to every target too.
    pub allow_writes: bool,
    /// The default ignore list followed by `--ignore`.
    pub ignore: Vec<FieldGlob>,
    pub max_diff_rate: f64,
    /// Requests (replay) or mirrors (proxy) in flight at once.
    pub concurrency: usize,
    pub progress: bool,
    pub json: Option<PathBuf>,
    pub html: Option<PathBuf>,
}

impl ShadowSettings {
    /// The warnings every report of these settings carries.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.allow_writes {
            warnings.push(
                "--allow-writes: writes went to every target, so each target needs its own \
                 database (shared data makes the answers drift apart, or collide)"
                    .to_string(),
            );
        }
        warnings
    }

    /// Checks that every target accepts a connection (and, for `https://`, completes a
    /// handshake) within `timeout`, and returns the client of the run. The TLS files are read
    /// first, so that a wrong one stops the run before any network.
    pub async fn connect(&self, timeout: Duration) -> anyhow::Result<ShadowClient> {
        let tls = tls::client_config(&self.tls)?;
        for target in self.targets.all() {
            client::reachable(target, timeout).await?;
            tls::check_handshake(target, &self.tls, timeout).await?;
        }
        Ok(ShadowClient::new(self.send, tls))
    }

    /// Writes the JSON and HTML reports asked for.
    pub fn write_reports(&self, report: &report::ShadowReport) -> anyhow::Result<()> {
        if let Some(path) = &self.json {
            report.write_json(path)?;
        }
        if let Some(path) = &self.html {
            report.write_html(path)?;
        }
        Ok(())
    }
}

/// The ignore list in force: the defaults, then the user's globs.
pub fn ignore_list(user: &[String]) -> Vec<FieldGlob> {
    noise::DEFAULT_IGNORED
        .iter()
        .copied()
        .chain(user.iter().map(String::as_str))
        .map(FieldGlob::new)
        .collect()
}

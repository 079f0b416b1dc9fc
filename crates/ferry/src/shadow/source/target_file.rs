//! A ferry target file (the one `ferry load --targets` reads): a weighted mix of requests
//! with headers, bodies and values files. The shadow draws `--count` requests from it, seeded,
//! and a request whose URL has placeholders keeps that URL as its route template.

use std::path::Path;

use anyhow::{Result, bail};
use bytes::Bytes;

use super::super::request::{ShadowRequest, origin_form};
use super::MixDraw;
use crate::load::target::{Target, load_target_file};
use crate::load::template::Template;

pub fn draw_from_target_file(path: &Path, draw: MixDraw) -> Result<Vec<ShadowRequest>> {
    let targets = load_target_file(path)?;
    let total: u64 = targets.iter().map(|target| u64::from(target.weight)).sum();
    if total == 0 {
        bail!("every request of the target file has weight 0");
    }
    let prepared: Vec<Prepared> = targets.iter().map(Prepared::new).collect();
    let mut rng = fastrand::Rng::with_seed(draw.seed);
    let mut requests = Vec::with_capacity(draw.count);
    for number in 1..=draw.count {
        let mut pick = rng.u64(..total);
        let index = targets
            .iter()
            .position(|target| {
                let weight = u64::from(target.weight);
                if pick < weight {
                    true
                } else {
                    pick -= weight;
                    false
                }
            })
            .unwrap_or(targets.len() - 1);
        requests.push(prepared[index].render_request(&targets[index], number, &mut rng));
    }
    Ok(requests)
}

struct Prepared {
    path: Template,
    body: Option<Template>,
    /// The URL's path as written, when it has placeholders: `/users/{id}`.
    template: Option<String>,
}

impl Prepared {
    fn new(target: &Target) -> Prepared {
        let names: Vec<String> = target.values.keys().cloned().collect();
        let (_, path) = origin_form(&target.url);
        let path_template = Template::parse(&path, &names);
        let template = (!path_template.is_static())
            .then(|| path.split('?').next().unwrap_or(&path).to_string());
        Prepared {
            path: path_template,
            body: target
                .body
                .as_ref()
                .map(|body| Template::parse(body, &names)),
            template,
        }
    }

    fn render_request(
        &self,
        target: &Target,
        number: usize,
        rng: &mut fastrand::Rng,
    ) -> ShadowRequest {
        let lists: Vec<&Vec<String>> = target.values.values().map(|list| list.as_ref()).collect();
        // One draw per list per request, so that a path and a body share the same value.
        let picks: Vec<&str> = lists
            .iter()
            .map(|list| list[rng.usize(..list.len())].as_str())
            .collect();
        let path = self.path.render_with(|index| picks[index], rng);
        let mut request = ShadowRequest::new(&target.method, &path, number);
        let (host, _) = origin_form(&target.url);
        request.host = host.map(str::to_string);
        request.headers = target.headers.clone();
        request.template = self.template.clone();
        if let Some(body) = &self.body {
            request.body = Bytes::from(body.render_with(|index| picks[index], rng));
        }
        request
    }
}

//! Naming a request's endpoint. In order of precedence: the first `--template` that matches
//! its path (the one with the most literal segments when several do), then the template its
//! source gives (a request-line file's third column), then the id rule of [`endpoint`] (UUIDs,
//! numbers, long hex). An endpoint named by a template is final; the others may still be
//! grouped by [`super::grouping`] when the report is written.

use anyhow::{Result, bail};

use super::endpoint::endpoint;
use super::request::ShadowRequest;

/// A request's endpoint, `GET /users/{id}`, and whether a template named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointName {
    pub name: String,
    pub templated: bool,
}

/// One `--template`: its text and its segments, `{…}` ones matching any non-empty segment.
#[derive(Debug, Clone)]
struct Template {
    text: String,
    segments: Vec<Segment>,
    literals: usize,
}

#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Placeholder,
}

/// The `--template` list of a run.
#[derive(Debug, Clone, Default)]
pub struct RouteTemplates {
    templates: Vec<Template>,
}

impl RouteTemplates {
    /// Parses the `--template` values: each a path starting with `/`, whose placeholder
    /// segments are whole segments in braces (`/api/articles/{slug}/comments`).
    pub fn new(texts: &[String]) -> Result<RouteTemplates> {
        let templates = texts
            .iter()
            .map(|text| Template::parse(text))
            .collect::<Result<_>>()?;
        Ok(RouteTemplates { templates })
    }

    /// The endpoint of `request`, by the precedence above.
    pub fn endpoint(&self, request: &ShadowRequest) -> EndpointName {
        let path = request.path.split(['?', '#']).next().unwrap_or("");
        let matched = self
            .templates
            .iter()
            .filter(|template| template.matches(path))
            // `max_by_key` keeps the last of equals: reversed, the first given wins a tie.
            .rev()
            .max_by_key(|template| template.literals);
        let template = matched
            .map(|template| template.text.as_str())
            .or(request.template.as_deref());
        EndpointName {
            name: endpoint(&request.method, &request.path, template),
            templated: template.is_some(),
        }
    }
}

impl Template {
    fn parse(text: &str) -> Result<Template> {
        if !text.starts_with('/') {
            bail!("--template `{text}` is not a path: it must start with `/`");
        }
        let segments: Vec<Segment> = text
            .split('/')
            .map(|segment| {
                let placeholder = segment.len() > 2
                    && segment.starts_with('{')
                    && segment.ends_with('}')
                    && !segment[1..segment.len() - 1].contains(['{', '}']);
                if placeholder {
                    Ok(Segment::Placeholder)
                } else if segment.contains(['{', '}']) {
                    bail!(
                        "--template `{text}`: `{segment}` is not a placeholder; a placeholder is \
                         a whole segment in braces, such as `{{slug}}`"
                    )
                } else {
                    Ok(Segment::Literal(segment.to_string()))
                }
            })
            .collect::<Result<_>>()?;
        let literals = segments
            .iter()
            .filter(|segment| matches!(segment, Segment::Literal(_)))
            .count();
        Ok(Template {
            text: text.to_string(),
            segments,
            literals,
        })
    }

    /// Whether `path` (no query) has this template's shape.
    fn matches(&self, path: &str) -> bool {
        let mut parts = path.split('/');
        let all_match = self
            .segments
            .iter()
            .all(|segment| match (segment, parts.next()) {
                (Segment::Literal(literal), Some(part)) => literal == part,
                (Segment::Placeholder, Some(part)) => !part.is_empty(),
                (_, None) => false,
            });
        all_match && parts.next().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(
        templates: &RouteTemplates,
        method: &str,
        path: &str,
        own: Option<&str>,
    ) -> EndpointName {
        let mut request = ShadowRequest::new(method, path, 1);
        request.template = own.map(str::to_string);
        templates.endpoint(&request)
    }

    #[test]
    fn templates_win_then_the_source_then_the_id_rule() {
        let templates = RouteTemplates::new(&[
            "/api/articles/{slug}".to_string(),
            "/api/articles/feed".to_string(),
            "/api/profiles/{user}/follow".to_string(),
        ])
        .unwrap();
        let named = name(&templates, "GET", "/api/articles/how-to-train?x=1", None);
        assert_eq!(named.name, "GET /api/articles/{slug}");
        assert!(named.templated);
        // The most literal template wins; a --template wins over the source's own.
        assert_eq!(
            name(&templates, "GET", "/api/articles/feed", Some("/x")).name,
            "GET /api/articles/feed"
        );
        assert_eq!(
            name(&templates, "POST", "/api/profiles/jake/follow", None).name,
            "POST /api/profiles/{user}/follow"
        );
        // No match: the source's template, then the id rule, not templated.
        assert_eq!(
            name(
                &templates,
                "GET",
                "/api/articles/a/comments",
                Some("/api/articles/{slug}/comments")
            )
            .name,
            "GET /api/articles/{slug}/comments"
        );
        let guessed = name(&templates, "GET", "/api/users/42", None);
        assert_eq!(guessed.name, "GET /api/users/{id}");
        assert!(!guessed.templated);
        // Segments count: an empty segment is no slug.
        assert!(!name(&templates, "GET", "/api/articles/", None).templated);
    }

    #[test]
    fn malformed_templates_are_refused() {
        for text in ["api/x", "/a/{b", "/a/x{id}"] {
            let error = RouteTemplates::new(&[text.to_string()]).unwrap_err();
            assert!(error.to_string().contains(text), "{error}");
        }
    }
}

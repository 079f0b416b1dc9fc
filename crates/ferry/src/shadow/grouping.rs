//! The automatic route rule, applied when the report is written (it needs every path seen):
//! among endpoints of the same method whose preceding segments are equal, a path position
//! with at least [`DISTINCT_VALUES`] distinct values becomes `{id}`. Slugs and user names
//! are grouped this way; a position with fewer values (`/users/me`, `/users/search`) stays as
//! it is. Positions are decided from the left, so that `/profiles/{id}/follow` is grouped
//! after `/profiles/{id}`. Endpoints named by a template are left alone.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::tally::EndpointTally;

/// Distinct values at one position that make it a parameter.
pub const DISTINCT_VALUES: usize = 10;

/// An endpoint split for grouping: `GET` and `["", "articles", "how-to"]`.
struct Route<'a> {
    method: &'a str,
    segments: Vec<String>,
    tally: &'a EndpointTally,
}

/// The endpoints of a report: the tally's, with the automatic rule applied and the grouped
/// endpoints' counts added together.
pub fn group(endpoints: &BTreeMap<String, EndpointTally>) -> BTreeMap<String, EndpointTally> {
    let mut grouped: BTreeMap<String, EndpointTally> = BTreeMap::new();
    let mut routes = Vec::new();
    for (name, tally) in endpoints {
        match name.split_once(' ') {
            Some((method, path)) if !tally.templated && path.starts_with('/') => {
                routes.push(Route {
                    method,
                    segments: path.split('/').map(str::to_string).collect(),
                    tally,
                });
            }
            _ => grouped.entry(name.clone()).or_default().absorb(tally),
        }
    }
    let depth = routes
        .iter()
        .map(|route| route.segments.len())
        .max()
        .unwrap_or(0);
    // Position 0 is the empty text before the leading `/`.
    for position in 1..depth {
        let mut values: HashMap<(&str, Vec<String>), BTreeSet<String>> = HashMap::new();
        for route in &routes {
            if let Some(value) = route
                .segments
                .get(position)
                .filter(|value| !value.is_empty())
            {
                values
                    .entry((route.method, route.segments[..position].to_vec()))
                    .or_default()
                    .insert(value.clone());
            }
        }
        for route in &mut routes {
            let wide = route
                .segments
                .get(position)
                .is_some_and(|value| !value.is_empty())
                && values
                    .get(&(route.method, route.segments[..position].to_vec()))
                    .is_some_and(|distinct| distinct.len() >= DISTINCT_VALUES);
            if wide {
                route.segments[position] = "{id}".to_string();
            }
        }
    }
    for route in routes {
        let name = format!("{} {}", route.method, route.segments.join("/"));
        grouped.entry(name).or_default().absorb(route.tally);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tallies(names: &[String]) -> BTreeMap<String, EndpointTally> {
        names
            .iter()
            .map(|name| {
                let tally = EndpointTally {
                    requests: 1,
                    compared: 1,
                    ..EndpointTally::default()
                };
                (name.clone(), tally)
            })
            .collect()
    }

    #[test]
    fn ten_distinct_values_make_a_parameter_and_nine_do_not() {
        let mut names: Vec<String> = (0..10).map(|n| format!("GET /articles/slug-{n}")).collect();
        names.extend((0..10).map(|n| format!("GET /profiles/user-{n}/follow")));
        names.extend((0..9).map(|n| format!("GET /tags/tag-{n}")));
        // Another method does not count towards GET's values.
        names.push("DELETE /articles/slug-0".to_string());
        let grouped = group(&tallies(&names));
        assert_eq!(grouped["GET /articles/{id}"].requests, 10);
        assert_eq!(grouped["GET /profiles/{id}/follow"].requests, 10);
        assert_eq!(grouped["DELETE /articles/slug-0"].requests, 1);
        assert_eq!(grouped["GET /tags/tag-3"].requests, 1);
        assert_eq!(grouped.len(), 1 + 1 + 1 + 9);
    }

    #[test]
    fn templated_endpoints_stay_as_named() {
        let mut endpoints = tallies(&(0..12).map(|n| format!("GET /a/{n}x")).collect::<Vec<_>>());
        let templated = EndpointTally {
            requests: 5,
            templated: true,
            ..EndpointTally::default()
        };
        endpoints.insert("GET /b/{slug}".to_string(), templated);
        let grouped = group(&endpoints);
        assert_eq!(grouped["GET /a/{id}"].requests, 12);
        assert_eq!(grouped["GET /b/{slug}"].requests, 5);
        assert_eq!(grouped.len(), 2);
    }
}

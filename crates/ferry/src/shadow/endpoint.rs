//! Grouping requests by route: `GET /items/1` and `GET /items/2` are one endpoint,
//! `GET /items/{id}`. Path segments that look like ids — UUIDs, decimal numbers, hex of 16
//! digits or more — become `{id}`; the query string is dropped. A template wins (which one:
//! [`super::routes`]); slugs are grouped when the report is written ([`super::grouping`]).

/// The endpoint of `method path`, or of `method template` when the source gave one.
pub fn endpoint(method: &str, path: &str, template: Option<&str>) -> String {
    if let Some(template) = template {
        return format!("{method} {template}");
    }
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let mut out = String::with_capacity(path.len() + method.len() + 1);
    out.push_str(method);
    out.push(' ');
    for (index, segment) in path.split('/').enumerate() {
        if index > 0 {
            out.push('/');
        }
        out.push_str(if looks_like_id(segment) {
            "{id}"
        } else {
            segment
        });
    }
    if !path.starts_with('/') {
        out.push_str(path);
    }
    out
}

fn looks_like_id(segment: &str) -> bool {
    if segment.is_empty() {
        return false;
    }
    let decimal = segment.bytes().all(|b| b.is_ascii_digit());
    let long_hex = segment.len() >= 16 && segment.bytes().all(|b| b.is_ascii_hexdigit());
    decimal || long_hex || is_uuid(segment)
}

/// 8-4-4-4-12 hex digits, either case.
fn is_uuid(segment: &str) -> bool {
    let groups: Vec<&str> = segment.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::endpoint;

    #[test]
    fn ids_become_placeholders() {
        assert_eq!(endpoint("GET", "/items/1", None), "GET /items/{id}");
        assert_eq!(endpoint("GET", "/items/2?x=1", None), "GET /items/{id}");
        assert_eq!(
            endpoint(
                "GET",
                "/api/v1/users/0193A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B",
                None
            ),
            "GET /api/v1/users/{id}"
        );
        assert_eq!(
            endpoint("GET", "/blobs/deadbeefdeadbeef00/raw", None),
            "GET /blobs/{id}/raw"
        );
        // Not ids: words, short hex, a malformed UUID.
        assert_eq!(endpoint("GET", "/users/bad", None), "GET /users/bad");
        assert_eq!(endpoint("GET", "/c/cafe", None), "GET /c/cafe");
        assert_eq!(endpoint("GET", "/u/1234-5678", None), "GET /u/1234-5678");
        assert_eq!(endpoint("GET", "/", None), "GET /");
        assert_eq!(
            endpoint("GET", "/users/7", Some("/users/{user}")),
            "GET /users/{user}"
        );
    }
}

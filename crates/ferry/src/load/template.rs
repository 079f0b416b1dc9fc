//! Text with `{name}` placeholders, filled per request from values files.
//!
//! Only names that have a values file are placeholders: every other brace is literal text, so
//! that a JSON body such as `{"id": "{id}"}` needs no escaping. One name is built in: `{uuid}`
//! (unless a values file is named `uuid`) becomes a fresh random UUID per request, for
//! requests that must not repeat, such as creating users with unique emails.

/// A piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Literal(String),
    /// Index into the value lists the template was parsed against.
    Value(usize),
    /// A random UUID (version 4 layout), new for every rendering.
    Uuid,
}

/// The built-in placeholder that renders a fresh UUID.
pub const UUID_PLACEHOLDER: &str = "uuid";

/// A template split into literal text and placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Splits `text` at every `{name}` whose name is in `names`; the placeholder refers to the
    /// name's position in `names`.
    pub fn parse(text: &str, names: &[String]) -> Template {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let placeholder = after.find('}').and_then(|close| {
                let name = &after[..close];
                match names.iter().position(|known| known == name) {
                    Some(index) => Some((Piece::Value(index), close)),
                    None if name == UUID_PLACEHOLDER => Some((Piece::Uuid, close)),
                    None => None,
                }
            });
            match placeholder {
                Some((piece, close)) => {
                    literal.push_str(&rest[..open]);
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(piece);
                    rest = &after[close + 1..];
                }
                None => {
                    literal.push_str(&rest[..=open]);
                    rest = after;
                }
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Template { pieces }
    }

    /// True when the template has no placeholder and renders to the same text every time.
    pub fn is_static(&self) -> bool {
        self.pieces
            .iter()
            .all(|piece| matches!(piece, Piece::Literal(_)))
    }

    /// The value-list indices this template uses.
    pub fn value_indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.pieces.iter().filter_map(|piece| match piece {
            Piece::Value(index) => Some(*index),
            Piece::Literal(_) | Piece::Uuid => None,
        })
    }

    /// Renders the template, taking placeholder `i`'s text from `value(i)`; `{uuid}` draws
    /// from a generator seeded with 0 (use [`Template::render_with`] for a real source).
    pub fn render<'a>(&'a self, value: impl Fn(usize) -> &'a str) -> String {
        self.render_with(value, &mut fastrand::Rng::with_seed(0))
    }

    /// Renders the template, taking placeholder `i`'s text from `value(i)` and `{uuid}`s from
    /// `rng` (the worker's seeded generator, so that a run's sequence can be repeated; give
    /// each run its own seed when the UUIDs must not repeat across runs).
    pub fn render_with<'a>(
        &'a self,
        value: impl Fn(usize) -> &'a str,
        rng: &mut fastrand::Rng,
    ) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Value(index) => out.push_str(value(*index)),
                Piece::Uuid => push_uuid(&mut out, rng.u128(..)),
            }
        }
        out
    }
}

/// Writes `bits` as a lowercase hyphenated UUID with the version 4 and RFC 4122 variant bits.
fn push_uuid(out: &mut String, bits: u128) {
    let bits = (bits & !(0xF << 76) & !(0b11 << 62)) | (0x4 << 76) | (0b10 << 62);
    let hex = format!("{bits:032x}");
    out.push_str(&hex[0..8]);
    out.push('-');
    out.push_str(&hex[8..12]);
    out.push('-');
    out.push_str(&hex[12..16]);
    out.push('-');
    out.push_str(&hex[16..20]);
    out.push('-');
    out.push_str(&hex[20..32]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_become_placeholders_and_other_braces_stay() {
        let names = vec!["id".to_string()];
        let template = Template::parse(r#"{"user": "{id}", "other": "{nope}"}"#, &names);
        assert!(!template.is_static());
        let rendered = template.render(|_| "42");
        assert_eq!(rendered, r#"{"user": "42", "other": "{nope}"}"#);
        let path = Template::parse("/users/{id}/posts", &names);
        assert_eq!(path.render(|_| "7"), "/users/7/posts");
        assert!(Template::parse("/health", &names).is_static());
    }

    #[test]
    fn uuid_is_built_in_and_fresh_per_rendering() {
        let template = Template::parse(r#"{"email": "u-{uuid}@example.com"}"#, &[]);
        assert!(!template.is_static());
        let mut rng = fastrand::Rng::with_seed(1);
        let first = template.render_with(|_| "", &mut rng);
        let second = template.render_with(|_| "", &mut rng);
        assert_ne!(first, second);
        let uuid = first
            .trim_start_matches(r#"{"email": "u-"#)
            .trim_end_matches(r#"@example.com"}"#);
        assert_eq!(uuid.len(), 36, "{uuid}");
        assert_eq!(&uuid[14..15], "4", "version 4: {uuid}");
        assert!(
            matches!(&uuid[19..20], "8" | "9" | "a" | "b"),
            "variant: {uuid}"
        );
        // A values file named `uuid` wins over the generator.
        let named = Template::parse("{uuid}", &["uuid".to_string()]);
        assert_eq!(named.render(|_| "given"), "given");
    }
}

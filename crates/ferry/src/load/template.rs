//! Text with `{name}` placeholders, filled per request from values files.
//!
//! Only names that have a values file are placeholders: every other brace is literal text, so
//! that a JSON body such as `{"id": "{id}"}` needs no escaping.

/// A piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Literal(String),
    /// Index into the value lists the template was parsed against.
    Value(usize),
}

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
                names
                    .iter()
                    .position(|known| known == name)
                    .map(|index| (index, close))
            });
            match placeholder {
                Some((index, close)) => {
                    literal.push_str(&rest[..open]);
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Value(index));
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
            Piece::Literal(_) => None,
        })
    }

    /// Renders the template, taking placeholder `i`'s text from `value(i)`.
    pub fn render<'a>(&'a self, value: impl Fn(usize) -> &'a str) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Value(index) => out.push_str(value(*index)),
            }
        }
        out
    }
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
}

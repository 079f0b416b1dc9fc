//! Taking a value out of a response body by JSON Pointer.

/// Why a value could not be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtractError {
    /// The response's status is outside 2xx.
    Status,
    /// The body is not JSON (or was cut at the size ferry keeps).
    NotJson,
    /// The pointer names nothing in the body.
    Missing,
    /// The pointer names a null, an object or an array.
    NotAScalar,
}

/// The value at `pointer` in `body`: a string as it is, a number or boolean as its JSON
/// text. `status` must be 2xx.
pub fn extract(status: u16, body: &[u8], pointer: &str) -> Result<String, ExtractError> {
    if !(200..300).contains(&status) {
        return Err(ExtractError::Status);
    }
    let document: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| ExtractError::NotJson)?;
    match document.pointer(pointer) {
        None => Err(ExtractError::Missing),
        Some(serde_json::Value::String(text)) => Ok(text.clone()),
        Some(value @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
            Ok(value.to_string())
        }
        Some(_) => Err(ExtractError::NotAScalar),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] =
        br#"{"article":{"slug":"how-to","id":42,"draft":false,"tags":["a"],"author":null}}"#;

    #[test]
    fn strings_are_taken_as_they_are_and_scalars_as_their_json_text() {
        assert_eq!(extract(201, BODY, "/article/slug").unwrap(), "how-to");
        assert_eq!(extract(200, BODY, "/article/id").unwrap(), "42");
        assert_eq!(extract(200, BODY, "/article/draft").unwrap(), "false");
        assert_eq!(extract(200, BODY, "/article/tags/0").unwrap(), "a");
    }

    #[test]
    fn what_cannot_be_a_placeholder_is_an_error() {
        assert_eq!(
            extract(200, BODY, "/article/title"),
            Err(ExtractError::Missing)
        );
        assert_eq!(
            extract(200, BODY, "/article/author"),
            Err(ExtractError::NotAScalar)
        );
        assert_eq!(
            extract(200, BODY, "/article/tags"),
            Err(ExtractError::NotAScalar)
        );
        assert_eq!(
            extract(200, b"<html>", "/article"),
            Err(ExtractError::NotJson)
        );
        assert_eq!(
            extract(404, BODY, "/article/slug"),
            Err(ExtractError::Status)
        );
    }
}

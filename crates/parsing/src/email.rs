//! Email addresses, validated by the grammar written down in `docs/contract.md`
//! (a dot-atom local part, a domain of two or more LDH labels, ASCII, at most 254
//! characters). It is written out here rather than taken from a crate because the Node
//! baseline must accept exactly the same set, and a grammar both implement to the letter
//! is the only way to promise that.

/// An email address that passed validation: trimmed, stored as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Option<Email> {
        let email = raw.trim();
        if email.is_empty() || email.len() > 254 || !email.is_ascii() {
            return None;
        }
        let (local, domain) = email.rsplit_once('@')?;
        (is_local_part(local) && is_domain(domain)).then(|| Email(email.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

fn is_atext(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&byte)
}

/// A dot-atom of 1–64 characters: atoms of atext joined by single dots.
fn is_local_part(local: &str) -> bool {
    (1..=64).contains(&local.len())
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.bytes().all(is_atext))
}

/// Two or more labels of 1–63 letters, digits and hyphens, not starting or ending with a hyphen.
fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn accepts_ordinary_addresses_trimmed() {
        for good in [
            "a@b.co",
            "first.last@example.com",
            "x+tag@sub.example.org",
            "o'brien@example.ie",
            "A_B-c{d}@ex-ample.COM",
        ] {
            assert_eq!(
                Email::parse(good).map(Email::into_inner).as_deref(),
                Some(good)
            );
        }
        assert_eq!(
            Email::parse("  a@b.co\n").map(Email::into_inner).as_deref(),
            Some("a@b.co")
        );
    }

    #[test]
    fn rejects_what_the_grammar_excludes() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long_total = format!("a@{}.com", "b".repeat(250));
        for bad in [
            "",
            "   ",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@@b.com",
            "a..b@example.com",
            ".a@example.com",
            "a.@example.com",
            "a@-example.com",
            "a@example-.com",
            "a@exa_mple.com",
            "a@example..com",
            "\"quoted\"@example.com",
            "a@[127.0.0.1]",
            "ü@example.com",
            "a b@example.com",
            long_local.as_str(),
            long_total.as_str(),
        ] {
            assert!(Email::parse(bad).is_none(), "{bad:?} must be rejected");
        }
    }
}

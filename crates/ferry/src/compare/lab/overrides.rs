//! `--set KEY=VALUE`: a lab value replaced from the command line before the file is read, so
//! that an override is checked like the file itself. `KEY` is a dotted path into the file;
//! an array of tables (`target`, `scenario`, `setup`) is entered by an entry's `name`:
//! `vars.users=1000000`, `slo.p99=5ms`, `scenario.get-user.connections=128`,
//! `target.rust.env.WORKERS=4`. `VALUE` is read as a TOML value when it is one (`128`,
//! `true`, `["a", "b"]`), else as a string.

use anyhow::{Context, Result, bail};
use toml_edit::{DocumentMut, Item, Table, TableLike, Value};

/// `text` with every `KEY=VALUE` of `sets` applied, formatting and line numbers of the rest
/// kept.
pub fn apply(text: &str, sets: &[String]) -> Result<String> {
    if sets.is_empty() {
        return Ok(text.to_string());
    }
    let mut document: DocumentMut = text.parse().context("parsing the lab file")?;
    for set in sets {
        let (key, value) = set
            .split_once('=')
            .with_context(|| format!("--set `{set}` is not KEY=VALUE"))?;
        set_one(&mut document, key.trim(), value.trim()).with_context(|| format!("--set {set}"))?;
    }
    Ok(document.to_string())
}

fn set_one(document: &mut DocumentMut, key: &str, text: &str) -> Result<()> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|part| part.is_empty()) {
        bail!("`{key}` is not a dotted key");
    }
    let value = text
        .parse::<Value>()
        .unwrap_or_else(|_| Value::from(text.to_string()));
    let mut table: &mut dyn TableLike = document.as_table_mut();
    let mut index = 0;
    while index + 1 < parts.len() {
        let part = parts[index];
        let walked = parts[..=index].join(".");
        if table.get(part).is_none() {
            table.insert(part, Item::Table(Table::new()));
        }
        let item = table
            .get_mut(part)
            .context("the key is there: inserted just above when missing")?;
        if let Item::ArrayOfTables(entries) = item {
            let name = parts[index + 1];
            table = entries
                .iter_mut()
                .find(|entry| entry.get("name").and_then(Item::as_str) == Some(name))
                .with_context(|| format!("no entry named `{name}` in `{walked}`"))?;
            index += 2;
        } else {
            table = item
                .as_table_like_mut()
                .with_context(|| format!("`{walked}` is not a table"))?;
            index += 1;
        }
    }
    let Some(last) = parts.get(index) else {
        bail!("`{key}` names an entry, not a key inside it");
    };
    table.insert(last, Item::Value(value));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::apply;

    #[test]
    fn keys_tables_and_named_entries_are_set() {
        let text =
            "name = \"x\"\n[vars]\nusers = 10\n\n[[target]]\nname = \"a\"\nrole = \"baseline\"\n";
        let out = apply(
            text,
            &[
                "vars.users=1000".into(),
                "slo.p99=5ms".into(),
                "target.a.env.WORKERS=4".into(),
            ],
        )
        .unwrap();
        let parsed: toml::Table = toml::from_str(&out).unwrap();
        assert_eq!(parsed["vars"]["users"].as_integer(), Some(1000));
        assert_eq!(parsed["slo"]["p99"].as_str(), Some("5ms"));
        assert_eq!(parsed["target"][0]["env"]["WORKERS"].as_integer(), Some(4));
        assert!(apply(text, &["target.b.env.X=1".into()]).is_err());
        assert!(apply(text, &["novalue".into()]).is_err());
    }
}

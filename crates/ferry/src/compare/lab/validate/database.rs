//! The `[database]` rules: its kind and `reset`, and the `{database_url:NAME}` placeholders,
//! the one form of a placeholder with an argument.

use std::collections::BTreeSet;

use anyhow::Result;
use toml::Spanned;

use super::super::placeholders::{
    DATABASE_URL_OF, RESERVED_DATABASES, argument, database_name, names, valid_database_name,
};
use super::super::schema::DatabaseTable;
use super::super::{DatabaseSpec, ResetMode, builtin};
use super::Checker;

/// pgbench clients without `pgbench_clients`: one per core of the 2-core reference machine.
const DEFAULT_PGBENCH_CLIENTS: u32 = 2;

impl Checker<'_> {
    /// `[database]`, checked.
    pub(super) fn database(&self, table: &DatabaseTable) -> Result<DatabaseSpec> {
        if table.kind.get_ref() != "embedded" {
            return Err(self.fail(
                table.kind.span(),
                "database.kind",
                format!(
                    "`{}` is not a database kind (the one kind is `embedded`)",
                    table.kind.get_ref()
                ),
            ));
        }
        let reset = match table
            .reset
            .as_ref()
            .map(|reset| (reset, reset.get_ref().as_str()))
        {
            None | Some((_, "auto")) => ResetMode::Auto,
            Some((_, "always")) => ResetMode::Always,
            Some((_, "never")) => ResetMode::Never,
            Some((reset, other)) => {
                return Err(self.fail(
                    reset.span(),
                    "database.reset",
                    format!("`{other}` is not a reset mode (`auto`, `always` or `never`)"),
                ));
            }
        };
        let pgbench_clients = match &table.pgbench_clients {
            None => vec![DEFAULT_PGBENCH_CLIENTS],
            Some(list)
                if list.get_ref().is_empty()
                    || list.get_ref().iter().any(|&c| !(1..=1024).contains(&c)) =>
            {
                return Err(self.fail(
                    list.span(),
                    "database.pgbench_clients",
                    "lists pgbench's client counts: one or more of 1 to 1024".into(),
                ));
            }
            Some(list) => list.get_ref().clone(),
        };
        Ok(DatabaseSpec {
            pgbench: table.pgbench,
            pgbench_clients,
            reset,
        })
    }

    /// `known` and the `{database_url:NAME}` placeholders of `value`, once each is checked;
    /// every database named is recorded for the run to create.
    pub(super) fn with_databases(
        &self,
        value: &Spanned<String>,
        key: &str,
        known: &BTreeSet<String>,
    ) -> Result<BTreeSet<String>> {
        let mut known = known.clone();
        for name in names(value.get_ref()) {
            let Some((kind, database)) = argument(name) else {
                continue;
            };
            let problem = if kind != DATABASE_URL_OF {
                format!(
                    "`{{{name}}}` is not a placeholder: the one form with `:` is \
                     `{{{DATABASE_URL_OF}:NAME}}`"
                )
            } else if !self.known.contains(builtin::DATABASE_URL) {
                format!("`{{{name}}}` needs the lab's `[database]`")
            } else if !valid_database_name(database) {
                format!(
                    "`{database}` is not a database name ferry may create: [a-z_][a-z0-9_]{{0,62}}, \
                     and none of {}",
                    RESERVED_DATABASES.join(", ")
                )
            } else {
                self.databases
                    .borrow_mut()
                    .extend(database_name(name).map(String::from));
                known.insert(name.to_string());
                continue;
            };
            return Err(self.fail(value.span(), key, problem));
        }
        Ok(known)
    }
}

-- Users, as the contract describes them (docs/contract.md).
-- Timestamps are kept at millisecond precision so that every implementation (Rust and
-- the Node.js baseline, whose Date has milliseconds) renders the same instant the same way.
CREATE TABLE users (
    id         uuid        PRIMARY KEY,
    email      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
    updated_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp())
);

-- Emails are stored as given and compared case-insensitively.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

-- Keyset pagination walks (created_at, id) newest first.
CREATE INDEX users_created_at_id_idx ON users (created_at DESC, id DESC);

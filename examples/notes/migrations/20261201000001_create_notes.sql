CREATE TABLE notes (
    id uuid PRIMARY KEY,
    author text NOT NULL,
    text text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

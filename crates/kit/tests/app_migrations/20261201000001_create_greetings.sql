-- The kit's test app: one table, so that migrations are shown to run.
CREATE TABLE greetings (name text PRIMARY KEY);

-- Tell every replica's read cache that a user changed: a notification on
-- `users_changed` with the user's id, sent by the writing transaction and delivered when
-- it commits (never for a rolled-back write). Inserts need none: the cache keeps only
-- users that exist. COPY (seeding) inserts only, so it pays nothing.
CREATE FUNCTION users_notify_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('users_changed', OLD.id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER users_changed
    AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION users_notify_changed();

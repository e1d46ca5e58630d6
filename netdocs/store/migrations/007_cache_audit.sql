-- netdocs schema v7: index generation, query-result and query-embedding caches, audit log.

-- The index generation: bumped by triggers in the same transaction as any statement that
-- changes a row of chunks (insert, update, delete, truncate), whatever code path runs it
-- (ingest commit, tag update, delete, check --repair, model change). A statement that
-- changes no row keeps it, so an ingest that changed nothing keeps every cached answer.
CREATE TABLE IF NOT EXISTS index_generation (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    generation  bigint NOT NULL
);
INSERT INTO index_generation (id, generation) VALUES (true, 0) ON CONFLICT DO NOTHING;

-- One bump per transaction is enough (others see it only at commit): a transaction that
-- already updated the row (its xmin is this transaction) does not update it again.
CREATE OR REPLACE FUNCTION netdocs_bump_generation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed) THEN
        UPDATE index_generation SET generation = generation + 1
         WHERE id AND xmin::text::bigint <> pg_current_xact_id()::text::bigint % 4294967296;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION netdocs_bump_generation_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE index_generation SET generation = generation + 1 WHERE id;
    RETURN NULL;
END $$;

CREATE TRIGGER chunks_generation_ins AFTER INSERT ON chunks
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION netdocs_bump_generation();
CREATE TRIGGER chunks_generation_upd AFTER UPDATE ON chunks
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION netdocs_bump_generation();
CREATE TRIGGER chunks_generation_del AFTER DELETE ON chunks
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION netdocs_bump_generation();
CREATE TRIGGER chunks_generation_trunc AFTER TRUNCATE ON chunks
    FOR EACH STATEMENT EXECUTE FUNCTION netdocs_bump_generation_truncate();

-- Answers and search results, keyed by sha256 of (normalised question, effective tag set,
-- index generation, retrieval and answer settings). Never served past the TTL, nor when a
-- stored chunk is no longer visible to the caller's tags (checked at lookup).
CREATE TABLE IF NOT EXISTS query_cache (
    cache_key      text PRIMARY KEY,
    action         text NOT NULL CHECK (action IN ('search', 'ask')),
    tags           text[],                    -- NULL = unrestricted
    generation     bigint NOT NULL,
    key_fields     jsonb NOT NULL,
    result         jsonb NOT NULL,
    chunk_ids      text[] NOT NULL,
    model          text,
    input_tokens   integer NOT NULL DEFAULT 0,
    output_tokens  integer NOT NULL DEFAULT 0,
    hit_count      bigint NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_hit_at    timestamptz
);
CREATE INDEX IF NOT EXISTS query_cache_created ON query_cache (created_at);

-- Question text -> vector, per embedding model (the text itself is not stored).
CREATE TABLE IF NOT EXISTS query_embedding_cache (
    model_id     text NOT NULL,
    text_sha256  text NOT NULL,
    embedding    vector NOT NULL,
    hit_count    bigint NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_hit_at  timestamptz,
    PRIMARY KEY (model_id, text_sha256)
);

-- Lookup counters for the hit rates of `netdocs cache stats`.
CREATE TABLE IF NOT EXISTS cache_counters (
    kind    text PRIMARY KEY,
    hits    bigint NOT NULL DEFAULT 0,
    misses  bigint NOT NULL DEFAULT 0
);
INSERT INTO cache_counters (kind) VALUES ('query'), ('query_embedding') ON CONFLICT DO NOTHING;

-- Who saw what: one row per search/ask from any entry point, one per prune.
CREATE TABLE IF NOT EXISTS audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    query_id    uuid NOT NULL,
    action      text NOT NULL CHECK (action IN ('search', 'ask', 'prune')),
    user_name   text NOT NULL,
    role        text,
    tags        text[],                       -- NULL = unrestricted
    question    text NOT NULL,
    chunk_ids   text[] NOT NULL DEFAULT '{}',
    paths       text[] NOT NULL DEFAULT '{}',
    cache_hit   boolean NOT NULL DEFAULT false,
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
CREATE INDEX IF NOT EXISTS audit_log_paths ON audit_log USING gin (paths);
CREATE INDEX IF NOT EXISTS audit_log_prunes ON audit_log (id) WHERE action = 'prune';

-- Append-only: UPDATE and TRUNCATE always fail. DELETE succeeds only for rows older than
-- the cutoff of a 'prune' row inserted earlier in the SAME transaction (what
-- netdocs_audit_prune does), so no row can be deleted without leaving a prune record that
-- itself survives (its time is after its cutoff). Limit: the table's owner or a superuser
-- can still disable or drop the trigger; grant the application role only INSERT and
-- SELECT on audit_log (and EXECUTE on netdocs_audit_prune) where that matters.
CREATE OR REPLACE FUNCTION netdocs_audit_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    cutoff timestamptz;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.action = 'prune' THEN
            NEW.at := clock_timestamp();
            IF (NEW.details->>'before') IS NULL
               OR (NEW.details->>'before')::timestamptz > NEW.at THEN
                RAISE EXCEPTION 'audit_log: a prune needs a cutoff (details.before) in the past';
            END IF;
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        SELECT max((a.details->>'before')::timestamptz) INTO cutoff FROM audit_log a
         WHERE a.action = 'prune' AND a.xmin::text::bigint = pg_current_xact_id()::text::bigint % 4294967296;
        IF cutoff IS NOT NULL AND OLD.at < cutoff THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only: delete old rows with `netdocs audit prune --before DATE`'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_guard_row BEFORE INSERT OR UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION netdocs_audit_guard();
CREATE TRIGGER audit_log_guard_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION netdocs_audit_guard();

-- Retention: records the prune (who, cutoff, how many rows) and deletes the older rows.
CREATE OR REPLACE FUNCTION netdocs_audit_prune(p_before timestamptz, p_user text, p_role text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    IF p_before > now() THEN
        RAISE EXCEPTION 'audit prune: the cutoff % is in the future', p_before;
    END IF;
    SELECT count(*) INTO n FROM audit_log WHERE at < p_before;
    INSERT INTO audit_log (query_id, action, user_name, role, question, details)
    VALUES (gen_random_uuid(), 'prune', p_user, p_role, '',
            jsonb_build_object('before', p_before, 'deleted', n));
    DELETE FROM audit_log WHERE at < p_before;
    RETURN n;
END $$;

-- netdocs schema v1. The embedding column's dimension is set by netdocs.store.schema
-- when the first model is recorded (see index_meta).
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE IF NOT EXISTS index_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE IF NOT EXISTS documents (
    doc_id        text PRIMARY KEY,
    content_hash  text NOT NULL,
    meta_hash     text NOT NULL,
    tags          text[] NOT NULL DEFAULT '{}',
    chunk_count   integer NOT NULL,
    run_id        uuid NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS chunks (
    chunk_id      text PRIMARY KEY,
    doc_id        text NOT NULL REFERENCES documents (doc_id) ON DELETE CASCADE,
    ordinal       integer NOT NULL,
    heading_path  text[] NOT NULL,
    heading       text NOT NULL,
    text          text NOT NULL,
    text_hash     text NOT NULL,
    token_count   integer NOT NULL,
    tags          text[] NOT NULL DEFAULT '{}',
    embedding     vector NOT NULL,
    tsv           tsvector GENERATED ALWAYS AS (
                      setweight(to_tsvector('english', heading), 'A')
                      || setweight(to_tsvector('english', text), 'B')) STORED
);
CREATE INDEX IF NOT EXISTS chunks_doc_id ON chunks (doc_id);
CREATE INDEX IF NOT EXISTS chunks_tsv ON chunks USING gin (tsv);
CREATE INDEX IF NOT EXISTS chunks_tags ON chunks USING gin (tags);

-- Content-addressed embedding cache shared by every worker.
CREATE TABLE IF NOT EXISTS embedding_cache (
    model_id     text NOT NULL,
    text_sha256  text NOT NULL,
    embedding    vector NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_id, text_sha256)
);

CREATE TABLE IF NOT EXISTS runs (
    run_id       uuid PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    status       text NOT NULL DEFAULT 'running',
    source       text,
    stats        jsonb
);

-- Documents rejected by the data-quality gate; retried when their content changes.
CREATE TABLE IF NOT EXISTS quarantine (
    doc_id        text PRIMARY KEY,
    content_hash  text NOT NULL,
    meta_hash     text NOT NULL,
    reasons       jsonb NOT NULL,
    run_id        uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

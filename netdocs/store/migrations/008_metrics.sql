-- netdocs schema v8 (metrics): one row per search/ask, feedback on those queries, and a
-- typed view of the ingest runs' figures (the runs table keeps them in stats jsonb).
CREATE TABLE IF NOT EXISTS query_metrics (
    query_id       text PRIMARY KEY,
    ts             timestamptz NOT NULL DEFAULT now(),
    kind           text NOT NULL DEFAULT 'search',      -- search | ask
    role           text,
    user_name      text,
    latency_ms     double precision NOT NULL,
    embed_ms       double precision,
    dense_ms       double precision,
    fulltext_ms    double precision,
    fuse_ms        double precision,
    generate_ms    double precision,
    result_count   integer NOT NULL DEFAULT 0,
    empty          boolean NOT NULL DEFAULT false,
    low_confidence boolean NOT NULL DEFAULT false,
    cache_hit      boolean NOT NULL DEFAULT false,
    mode           text,                                 -- llm | fallback (ask only)
    model          text,
    input_tokens   integer NOT NULL DEFAULT 0,
    output_tokens  integer NOT NULL DEFAULT 0,
    cost_usd       double precision,
    k              integer
);
CREATE INDEX IF NOT EXISTS query_metrics_ts ON query_metrics (ts);

CREATE TABLE IF NOT EXISTS query_feedback (
    feedback_id  bigserial PRIMARY KEY,
    query_id     text NOT NULL REFERENCES query_metrics (query_id) ON DELETE CASCADE,
    rating       text NOT NULL CHECK (rating IN ('helpful', 'not_helpful')),
    comment      text,
    user_name    text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS query_feedback_query ON query_feedback (query_id, created_at);

-- Numbers of each run's stats as typed columns (NULL when a run predates the figure).
CREATE OR REPLACE VIEW ingest_run_metrics AS
SELECT run_id, started_at, finished_at, status, source,
       CASE WHEN jsonb_typeof(stats -> 'duration_s') = 'number'
            THEN (stats ->> 'duration_s')::double precision END AS duration_s,
       CASE WHEN jsonb_typeof(stats -> 'chunks_embedded') = 'number'
            THEN (stats ->> 'chunks_embedded')::numeric END AS chunks_embedded,
       CASE WHEN jsonb_typeof(stats -> 'chunks_reused') = 'number'
            THEN (stats ->> 'chunks_reused')::numeric END AS chunks_reused,
       CASE WHEN jsonb_typeof(stats -> 'embedding_tokens') = 'number'
            THEN (stats ->> 'embedding_tokens')::numeric END AS embedding_tokens,
       CASE WHEN jsonb_typeof(stats -> 'embedding_cost_usd') = 'number'
            THEN (stats ->> 'embedding_cost_usd')::double precision END AS embedding_cost_usd,
       CASE WHEN jsonb_typeof(stats -> 'saved_tokens') = 'number'
            THEN (stats ->> 'saved_tokens')::numeric END AS saved_tokens,
       CASE WHEN jsonb_typeof(stats -> 'saved_cost_usd') = 'number'
            THEN (stats ->> 'saved_cost_usd')::double precision END AS saved_cost_usd
FROM runs;

-- netdocs schema v2: the last known circuit-breaker state of each provider (for status).
CREATE TABLE IF NOT EXISTS provider_breakers (
    provider    text PRIMARY KEY,
    state       text NOT NULL,
    failures    integer NOT NULL DEFAULT 0,
    opened_at   timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

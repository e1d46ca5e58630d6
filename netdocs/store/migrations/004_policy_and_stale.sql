-- netdocs schema v4 (branch policy): the access policy the index was built with, and
-- documents served from an older version (since when and why).
-- One row at most: the policy text as read by the last ingest that was given one.
CREATE TABLE IF NOT EXISTS index_policy (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    content    text NOT NULL,
    sha256     text NOT NULL,
    source     text NOT NULL,
    run_id     uuid,
    stored_at  timestamptz NOT NULL DEFAULT now()
);
-- A document whose current file could not be indexed (unreadable, quarantined, failed) keeps
-- its previous version: stale_since says since when, stale_reason why. chunks.stale_since
-- mirrors it so the ranking queries can withdraw versions older than NETDOCS_STALE_MAX_AGE.
ALTER TABLE documents ADD COLUMN IF NOT EXISTS stale_since timestamptz;
ALTER TABLE documents ADD COLUMN IF NOT EXISTS stale_reason text;
ALTER TABLE chunks ADD COLUMN IF NOT EXISTS stale_since timestamptz;

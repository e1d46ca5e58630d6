-- Full-text IDF weights come from pg_stats.most_common_elems of chunks.tsv (netdocs.query.terms).
-- The default statistics target tracks 1,000 lexemes, whose order-dependent lossy counting
-- made the weights of mid-frequency lexemes differ between two ingests of the same corpus;
-- 1,000 tracks ~7,600 lexemes on the shared corpus (ANALYZE stays well under a second).
ALTER TABLE chunks ALTER COLUMN tsv SET STATISTICS 1000;
ANALYZE chunks;

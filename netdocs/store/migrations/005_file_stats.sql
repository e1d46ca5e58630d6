-- netdocs schema v5 (branch scale): what the file looked like when its content was hashed,
-- so a no-change run can skip reading files whose size, times and inode are unchanged
-- (netdocs.ingest.filestat). NULL = unknown: the file is read and hashed as before.
-- file_seen_ns is the wall clock (ns) just before that read: a file changed within the
-- racy margin of it is not trusted (re-hashed next time). declared_tags are the file's
-- front-matter tags, so the current policy's tags can be computed without reading it.
ALTER TABLE documents ADD COLUMN IF NOT EXISTS file_size bigint;
ALTER TABLE documents ADD COLUMN IF NOT EXISTS file_mtime_ns bigint;
ALTER TABLE documents ADD COLUMN IF NOT EXISTS file_ctime_ns bigint;
ALTER TABLE documents ADD COLUMN IF NOT EXISTS file_ino numeric;
ALTER TABLE documents ADD COLUMN IF NOT EXISTS file_seen_ns bigint;
ALTER TABLE documents ADD COLUMN IF NOT EXISTS declared_tags text[];

"""PostgreSQL storage: schema and migrations, the per-document commit, vector search SQL."""

-- netdocs schema v12: API tokens expire. `netdocs token create` sets expires_at (90 days
-- unless --expires-in says otherwise); a token past it is refused like a revoked one. Tokens
-- made before this migration keep NULL (no expiry) until revoked: the operator decides.
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS expires_at timestamptz;

-- netdocs schema v10 (serve): API tokens for `netdocs serve`. Only the SHA-256 of a token is
-- stored; the token itself is printed once by `netdocs token create`.
CREATE TABLE IF NOT EXISTS api_tokens (
    token_id    text PRIMARY KEY,                 -- public handle (for list / revoke)
    token_hash  text NOT NULL UNIQUE,             -- hex SHA-256 of the secret token
    user_name   text NOT NULL,
    role        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    last_used_at timestamptz
);

-- Per-rep bearer tokens (issued and revoked by the admin API) and the company's OAuth clients
-- the token broker uses. Numbered 0003 so that a 0002 from another branch merges beside it.

-- A token is shown once when issued; only its SHA-256 is kept. `id` is the public half
-- (printed in lists and logs), the hash covers the whole token.
CREATE TABLE rep_tokens (
    id            text PRIMARY KEY,
    account_id    text NOT NULL,
    rep_id        text NOT NULL,
    hash          bytea NOT NULL UNIQUE,
    label         text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz,
    FOREIGN KEY (account_id, rep_id) REFERENCES reps (account_id, rep_id) ON DELETE CASCADE
);
CREATE INDEX rep_tokens_rep ON rep_tokens (account_id, rep_id);

-- One OAuth client (app) per account and integration id: the kind, endpoints and client id
-- in clear, the client secret sealed (bound to `<account>/oauth/<integration>`).
CREATE TABLE oauth_clients (
    account_id     text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    integration    text NOT NULL,
    kind           text NOT NULL,
    client_id      text NOT NULL,
    token_url      text NOT NULL,
    authorize_url  text NOT NULL,
    redirect_uri   text NOT NULL,
    scopes         text NOT NULL DEFAULT '',
    secret_sealed  text NOT NULL,
    PRIMARY KEY (account_id, integration)
);

-- Calltrail server: accounts, reps, the ledger (records), the inbox and the instances.

CREATE TABLE accounts (
    id               text PRIMARY KEY,
    name             text NOT NULL DEFAULT '',
    default_country  text NOT NULL DEFAULT 'US',
    -- RingCentral: {server_url, client_id} in clear; {client_secret, jwt, verification_token} sealed.
    rc               jsonb,
    rc_sealed        text,
    -- The HMAC secret of signed generic events, sealed.
    webhook_sealed   text,
    subscription_id  text,
    sync_token       text,
    synced_at        timestamptz,
    -- Which instance keeps the account's subscription and call-log sync (a lease like reps').
    keeper_owner     text,
    keeper_gen       bigint NOT NULL DEFAULT 0,
    keeper_until     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE reps (
    account_id      text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    rep_id          text NOT NULL,
    -- The telephony user whose calls are this rep's (a RingCentral extension id).
    telephony_user  text NOT NULL,
    -- One rep's engine runs on one instance at a time: the lease, fenced by its generation.
    lease_owner     text,
    lease_gen       bigint NOT NULL DEFAULT 0,
    lease_until     timestamptz,
    PRIMARY KEY (account_id, rep_id),
    UNIQUE (account_id, telephony_user)
);

-- The store contract's records, per rep. For store 'slots' the key is
-- `call|<call id>|<integration id>`, so the primary key is the slot-uniqueness constraint:
-- one slot per (account, call, integration) of a rep.
CREATE TABLE records (
    account_id  text NOT NULL,
    rep_id      text NOT NULL,
    store       text NOT NULL,
    key         text COLLATE "C" NOT NULL,
    open        smallint NOT NULL,
    at          bigint NOT NULL,
    value       text NOT NULL,
    PRIMARY KEY (account_id, rep_id, store, key),
    FOREIGN KEY (account_id, rep_id) REFERENCES reps (account_id, rep_id) ON DELETE CASCADE
);
CREATE INDEX records_open ON records (account_id, rep_id, store) WHERE open = 1;
CREATE INDEX records_at ON records (account_id, rep_id, store, at);

-- Every event received, stored before it is answered. rep_id is null for what is nobody's
-- (an outside party's state, a user no rep is mapped to): kept, never processed.
CREATE TABLE inbox (
    id           bigserial PRIMARY KEY,
    account_id   text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    rep_id       text,
    source       text NOT NULL,
    delivery     text NOT NULL,
    session      text,
    received_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    body         text NOT NULL,
    done         boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX inbox_delivery ON inbox (account_id, source, delivery, coalesce(rep_id, ''));
CREATE INDEX inbox_pending ON inbox (account_id, rep_id, id) WHERE NOT done;
CREATE INDEX inbox_session ON inbox (account_id, rep_id, session);

CREATE TABLE instances (
    id            text PRIMARY KEY,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL
);

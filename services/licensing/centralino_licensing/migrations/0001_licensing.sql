CREATE SCHEMA IF NOT EXISTS licensing;

-- Product and G.729 licences; kind keeps the two lists apart (G729-04).
CREATE TABLE licensing.licences (
    id                text PRIMARY KEY,
    kind              text NOT NULL CHECK (kind IN ('product', 'g729')),
    product           text NOT NULL,
    activation_key    text NOT NULL UNIQUE,
    channels          integer NOT NULL CHECK (channels > 0),
    serial            text NOT NULL,
    issued_at         timestamptz NOT NULL,
    valid_from        timestamptz NOT NULL,
    expires_at        timestamptz,
    activated_at      timestamptz NOT NULL,
    expiry_notified   boolean NOT NULL DEFAULT false,
    licensee          jsonb,
    terms_version     text
);
CREATE INDEX licences_kind_product ON licensing.licences (kind, product);

-- Per-user seats of CTI Pro / CTI Phone (USR-06).
CREATE TABLE licensing.assignments (
    product      text NOT NULL,
    tenant       text NOT NULL,
    username     text NOT NULL,
    assigned_at  timestamptz NOT NULL,
    PRIMARY KEY (product, tenant, username)
);

-- G.729 activations in progress (G729-02): one row per started procedure.
CREATE TABLE licensing.g729_activations (
    id              uuid PRIMARY KEY,
    activation_key  text NOT NULL,
    next_step       text NOT NULL,
    terms_version   text,
    licensee        jsonb,
    created_at      timestamptz NOT NULL
);

-- One row per pool: acquiring locks it, which serialises allocation across replicas.
CREATE TABLE licensing.pools (
    pool text PRIMARY KEY
);
INSERT INTO licensing.pools (pool) VALUES ('g729');

CREATE TABLE licensing.leases (
    id           uuid PRIMARY KEY,
    pool         text NOT NULL REFERENCES licensing.pools (pool),
    owner        text NOT NULL,
    session_id   text NOT NULL,
    acquired_at  timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX leases_pool_expiry ON licensing.leases (pool, expires_at);

-- config-api schema: tenants, extensions, SIP accounts, named catalog entities,
-- global SIP settings, users and tokens, and the transactional outbox.
-- Shareable attributes live in JSONB (``overrides`` on items, ``data`` on templates) because
-- the attribute set is declared in code (fields.py) and grows without migrations; anything
-- that must be unique or joined on is a real column.

CREATE TABLE tenants (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
    name        text NOT NULL,
    revision    bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Named tenant entities (pickup groups, routing classes, trunks, templates): one table,
-- told apart by ``kind``, so CRUD, references and events are generic.
CREATE TABLE catalog (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant      text NOT NULL REFERENCES tenants(id),
    kind        text NOT NULL,
    name        text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}',
    secret      bytea,
    revision    bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, kind, name)
);
CREATE INDEX catalog_kind ON catalog (tenant, kind);

CREATE TABLE extensions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant      text NOT NULL REFERENCES tenants(id),
    number      text NOT NULL,
    template_id uuid REFERENCES catalog(id),
    props       jsonb NOT NULL DEFAULT '{}',
    overrides   jsonb NOT NULL DEFAULT '{}',
    pin_enc     bytea,
    revision    bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, number)
);
CREATE INDEX extensions_template ON extensions (template_id);

-- SIP usernames are unique in the whole PBX (ACC-03), not per tenant.
CREATE TABLE accounts (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant       text NOT NULL REFERENCES tenants(id),
    username     text NOT NULL UNIQUE,
    password_enc bytea NOT NULL,
    extension_id uuid NOT NULL REFERENCES extensions(id),
    template_id  uuid REFERENCES catalog(id),
    props        jsonb NOT NULL DEFAULT '{}',
    overrides    jsonb NOT NULL DEFAULT '{}',
    revision     bigint NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accounts_extension ON accounts (extension_id);
CREATE INDEX accounts_template ON accounts (template_id);
CREATE INDEX accounts_tenant ON accounts (tenant);

-- Per-tenant singletons (service codes) and the PBX-wide SIP settings (tenant '_system').
CREATE TABLE settings (
    tenant      text NOT NULL,
    kind        text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}',
    revision    bigint NOT NULL DEFAULT 1,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, kind)
);

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant        text REFERENCES tenants(id),
    username      text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'tenant_admin', 'tenant_user')),
    extension_id  uuid UNIQUE REFERENCES extensions(id) ON DELETE CASCADE,
    enabled       boolean NOT NULL DEFAULT true,
    gui_access    boolean NOT NULL DEFAULT true,
    cti_access    boolean NOT NULL DEFAULT false,
    revision      bigint NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'admin') = (tenant IS NULL))
);

-- Only a SHA-256 of each token is stored: a database dump does not hand out sessions.
CREATE TABLE api_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE,
    kind        text NOT NULL CHECK (kind IN ('session', 'api')),
    name        text NOT NULL DEFAULT '',
    expires_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE login_failures (
    key          text PRIMARY KEY,
    failures     integer NOT NULL,
    locked_until timestamptz,
    last_failure timestamptz NOT NULL DEFAULT now()
);

-- Transactional outbox: written in the same transaction as the change it describes,
-- published to NATS after commit, deleted once JetStream acknowledged it.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    -- JetStream de-duplication id: a retried publish after a crash is dropped by NATS
    event_id    uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant      text NOT NULL,
    kind        text NOT NULL,
    entity_id   text NOT NULL,
    op          text NOT NULL,
    revision    bigint NOT NULL,
    key         text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

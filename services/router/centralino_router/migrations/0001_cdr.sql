-- One row per ended call (written by the router replica that handled it).
CREATE TABLE call_detail_records (
    call_id          text PRIMARY KEY,
    tenant           text NOT NULL,
    origin           text NOT NULL,
    caller_extension text NOT NULL,
    caller_account   text NOT NULL,
    dialled          text NOT NULL,
    callee_extension text NOT NULL,
    callee_account   text NOT NULL,
    started_at       timestamptz NOT NULL,
    answered_at      timestamptz,
    ended_at         timestamptz NOT NULL,
    duration_ms      bigint NOT NULL,
    cause            text NOT NULL,
    sip_status       integer NOT NULL,
    router           text NOT NULL
);
CREATE INDEX call_detail_records_tenant_started ON call_detail_records (tenant, started_at);

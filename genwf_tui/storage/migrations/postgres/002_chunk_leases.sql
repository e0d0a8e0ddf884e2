-- genwf schema v2 (PostgreSQL): chunk leases, so several nodes can compute the chunks of one
-- distributed run. A lease is held until expires_at (clock_timestamp() of the server) or until
-- its holder commits the chunk (the checkpoint insert and the lease delete share one
-- transaction). Holders renew their lease while they compute; a dead holder's lease expires.
CREATE TABLE chunk_leases (
    execution_id TEXT        NOT NULL REFERENCES workflow_executions (execution_id) ON DELETE CASCADE,
    step_id      TEXT        NOT NULL,
    chunk_index  INTEGER     NOT NULL,
    node_id      TEXT        NOT NULL,
    incarnation  TEXT        NOT NULL,
    owner_pid    INTEGER,
    owner_host   TEXT,
    token        TEXT        NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (execution_id, step_id, chunk_index)
);

-- genwf schema v1 (SQLite). Times are UTC text 'YYYY-MM-DD HH:MM:SS.SSS' from the database clock,
-- so `sqlite3 workflow.db "SELECT execution_id, status, created_at FROM workflow_executions
-- ORDER BY created_at DESC;"` reads well and sorts right.
CREATE TABLE workflow_definitions (
    id              TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    name            TEXT    NOT NULL,
    definition_json TEXT    NOT NULL,
    created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    PRIMARY KEY (id, version)
);

CREATE TABLE workflow_executions (
    execution_id       TEXT    PRIMARY KEY,
    definition_id      TEXT    NOT NULL,
    definition_version INTEGER NOT NULL,
    status             TEXT    NOT NULL CHECK (status IN ('PENDING','RUNNING','COMPLETED','FAILED','CANCELLED','TIMED_OUT')),
    current_step_id    TEXT,
    input_json         TEXT    NOT NULL,
    output_json        TEXT,
    error              TEXT,
    node_id            TEXT,
    version            INTEGER NOT NULL DEFAULT 0,
    last_heartbeat     TEXT,
    last_progress_at   TEXT,
    owner_incarnation  TEXT,
    owner_pid          INTEGER,
    owner_host         TEXT,
    recovery_count     INTEGER NOT NULL DEFAULT 0,
    cancel_requested   INTEGER NOT NULL DEFAULT 0,
    metadata_json      TEXT    NOT NULL DEFAULT '{}',
    created_at         TEXT    NOT NULL,
    started_at         TEXT,
    completed_at       TEXT,
    updated_at         TEXT    NOT NULL,
    FOREIGN KEY (definition_id, definition_version) REFERENCES workflow_definitions (id, version)
);
CREATE INDEX idx_executions_status  ON workflow_executions (status);
CREATE INDEX idx_executions_created ON workflow_executions (created_at);
CREATE INDEX idx_executions_updated ON workflow_executions (updated_at);

CREATE TABLE step_executions (
    step_execution_id TEXT    PRIMARY KEY,
    execution_id      TEXT    NOT NULL REFERENCES workflow_executions (execution_id) ON DELETE CASCADE,
    step_id           TEXT    NOT NULL,
    step_index        INTEGER NOT NULL,
    status            TEXT    NOT NULL,
    attempt           INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    chunks_total      INTEGER,
    chunks_done       INTEGER NOT NULL DEFAULT 0,
    items_done        INTEGER NOT NULL DEFAULT 0,
    compute_ms        REAL    NOT NULL DEFAULT 0,
    coordinate_ms     REAL    NOT NULL DEFAULT 0,
    metadata_json     TEXT    NOT NULL DEFAULT '{}',
    started_at        TEXT,
    completed_at      TEXT,
    updated_at        TEXT,
    UNIQUE (execution_id, step_id)
);

-- One row per finished chunk: its compact output and timings. The primary key is the
-- "never checkpointed twice" guarantee.
CREATE TABLE chunk_checkpoints (
    execution_id  TEXT    NOT NULL REFERENCES workflow_executions (execution_id) ON DELETE CASCADE,
    step_id       TEXT    NOT NULL,
    chunk_index   INTEGER NOT NULL,
    payload       BLOB    NOT NULL,
    items         INTEGER NOT NULL,
    compute_ms    REAL    NOT NULL,
    coordinate_ms REAL    NOT NULL,
    node_id       TEXT    NOT NULL,
    incarnation   TEXT    NOT NULL,
    attempt       INTEGER NOT NULL,
    committed_at  TEXT    NOT NULL,
    PRIMARY KEY (execution_id, step_id, chunk_index)
);

-- Recovery history: creations, claims, node changes, releases, kills seen, failures.
CREATE TABLE execution_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id TEXT    NOT NULL,
    at           TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    node_id      TEXT,
    detail       TEXT
);
CREATE INDEX idx_events_execution ON execution_events (execution_id, id);

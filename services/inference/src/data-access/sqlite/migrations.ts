import type { SqliteSchema } from '@capcheck/shared';

/** The inference service's tables. Append a step; never edit a shipped one. Dates are epoch milliseconds. */
export const inferenceSchema: SqliteSchema = {
  service: 'inference',
  // Step 1 was step 3 of the single schema every service used to share.
  legacyUserVersion: 3,
  migrations: [
    `CREATE TABLE predictions (
       sha256 TEXT NOT NULL,
       model_name TEXT NOT NULL,
       model_version TEXT NOT NULL,
       label TEXT NOT NULL,
       confidence REAL NOT NULL,
       scores TEXT NOT NULL,
       created_at INTEGER NOT NULL,
       PRIMARY KEY (sha256, model_name, model_version)
     );
     CREATE TABLE prediction_logs (
       id TEXT PRIMARY KEY,
       at INTEGER NOT NULL,
       image_id TEXT NOT NULL,
       user_id TEXT NOT NULL,
       api_key_id TEXT,
       client_ip TEXT NOT NULL,
       user_agent TEXT NOT NULL,
       image_format TEXT NOT NULL,
       image_sha256 TEXT NOT NULL,
       label TEXT NOT NULL,
       confidence REAL NOT NULL,
       model_name TEXT NOT NULL,
       model_version TEXT NOT NULL,
       cached INTEGER NOT NULL,
       latency_ms REAL NOT NULL
     );
     CREATE INDEX prediction_logs_at ON prediction_logs (at DESC, id DESC);
     CREATE INDEX prediction_logs_label_at ON prediction_logs (label, at DESC, id DESC);`,
    // A picture predicted without being stored (POST /predict) has no image id: image_id may be NULL.
    `CREATE TABLE prediction_logs_new (
       id TEXT PRIMARY KEY,
       at INTEGER NOT NULL,
       image_id TEXT,
       user_id TEXT NOT NULL,
       api_key_id TEXT,
       client_ip TEXT NOT NULL,
       user_agent TEXT NOT NULL,
       image_format TEXT NOT NULL,
       image_sha256 TEXT NOT NULL,
       label TEXT NOT NULL,
       confidence REAL NOT NULL,
       model_name TEXT NOT NULL,
       model_version TEXT NOT NULL,
       cached INTEGER NOT NULL,
       latency_ms REAL NOT NULL
     );
     INSERT INTO prediction_logs_new SELECT * FROM prediction_logs;
     DROP TABLE prediction_logs;
     ALTER TABLE prediction_logs_new RENAME TO prediction_logs;
     CREATE INDEX prediction_logs_at ON prediction_logs (at DESC, id DESC);
     CREATE INDEX prediction_logs_label_at ON prediction_logs (label, at DESC, id DESC);`,
    // Owners' answers on what an image shows (issue 15): one row per image, the last answer wins.
    `CREATE TABLE feedback (
       image_id TEXT PRIMARY KEY,
       user_id TEXT NOT NULL,
       sha256 TEXT NOT NULL,
       label TEXT NOT NULL,
       predicted_label TEXT NOT NULL,
       predicted_confidence REAL NOT NULL,
       model_name TEXT NOT NULL,
       model_version TEXT NOT NULL,
       created_at INTEGER NOT NULL,
       updated_at INTEGER NOT NULL
     );
     CREATE INDEX feedback_updated ON feedback (updated_at DESC, image_id DESC);
     CREATE INDEX feedback_label_updated ON feedback (label, updated_at DESC, image_id DESC);`,
    // Model rollouts (one row per model, polled by every replica), and a shadow candidate's answer
    // beside the served one in the prediction log.
    `CREATE TABLE rollouts (
       model_name TEXT PRIMARY KEY,
       current_version TEXT NOT NULL,
       candidate_version TEXT,
       candidate_mode TEXT,
       candidate_percent INTEGER,
       updated_at INTEGER NOT NULL,
       updated_by TEXT NOT NULL
     );
     ALTER TABLE prediction_logs ADD COLUMN shadow_model_version TEXT;
     ALTER TABLE prediction_logs ADD COLUMN shadow_label TEXT;
     ALTER TABLE prediction_logs ADD COLUMN shadow_confidence REAL;`,
    // Adaptations (issue 15). The partial unique index lets one at a time be queued or running per
    // model, for every process sharing the database.
    `CREATE TABLE adaptations (
       id TEXT PRIMARY KEY,
       model_name TEXT NOT NULL,
       parent_version TEXT NOT NULL,
       status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
       requested_by TEXT NOT NULL,
       created_at INTEGER NOT NULL,
       updated_at INTEGER NOT NULL,
       version TEXT,
       examples TEXT,
       metrics TEXT,
       error TEXT
     );
     CREATE UNIQUE INDEX adaptations_one_active ON adaptations (model_name) WHERE status IN ('queued', 'running');
     CREATE INDEX adaptations_model_created ON adaptations (model_name, created_at DESC);`,
  ],
};

-- The reporter's watermark (docs/reporter.md): everything before reported_until has been reported. One row;
-- a run locks it (SELECT ... FOR UPDATE) for the whole run, so concurrent runs queue instead of
-- reporting a window twice, and it advances in the same transaction that read the counts.
CREATE TABLE IF NOT EXISTS chat_heartbeat.report_watermark (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  -- NULL until the first report: the first run starts at the earliest counted window.
  reported_until timestamptz NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO chat_heartbeat.report_watermark (singleton) VALUES (true) ON CONFLICT DO NOTHING;

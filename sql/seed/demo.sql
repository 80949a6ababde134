-- Demo rows for the local stack (docs/local-stack.md): one user with a running workspace whose autostop
-- deadline is 10 minutes away — inside the 5 % guard of a 1 h bump — and an active chat in it,
-- so the first heartbeat visibly bumps. Re-running re-arms the demo; fixed ids keep it idempotent.

INSERT INTO templates (id, created_at, updated_at, organization_id, name)
VALUES ('7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a01', now(), now(), '7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a00', 'demo-template')
ON CONFLICT (id) DO NOTHING;

INSERT INTO workspaces (id, created_at, updated_at, owner_id, organization_id, template_id, name)
VALUES ('7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a03', now(), now(), '7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a02',
        '7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a00', '7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a01', 'demo-workspace')
ON CONFLICT (id) DO UPDATE SET dormant_at = NULL, deleted = false;

INSERT INTO provisioner_jobs (id, created_at, updated_at, started_at, completed_at, organization_id)
VALUES ('7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a04', now(), now(), now(), now(), '7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a00')
ON CONFLICT (id) DO NOTHING;

INSERT INTO workspace_builds (id, created_at, updated_at, workspace_id, build_number, transition, job_id, deadline, max_deadline)
VALUES ('7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a05', now(), now(), '7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a03', 1, 'start',
        '7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a04', now() + interval '10 minutes', now() + interval '8 hours')
ON CONFLICT (id) DO UPDATE SET deadline = EXCLUDED.deadline, max_deadline = EXCLUDED.max_deadline;

INSERT INTO chats (id, owner_id, organization_id, workspace_id, status)
VALUES ('7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a06', '7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a02',
        '7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a00', '7e3f0c2a-5b1d-4c8e-9a6f-2d4b8c1e0a03', 'running')
ON CONFLICT (id) DO UPDATE SET status = 'running', archived = false;

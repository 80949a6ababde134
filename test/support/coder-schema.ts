import type pg from "pg";

/**
 * Facts about Coder's own schema, read from coder/coder main's `coderd/database/dump.sql` at the
 * commit below (with the search tool's `read_file`), for the five tables the heartbeat uses. Types
 * and defaults are written as PostgreSQL renders them (`format_type`, `pg_get_expr` in a UTC
 * session), which is also how pg_dump wrote them, so a catalog can be compared with them directly.
 *
 * Used twice: to check that our subset (sql/migrations/0001) never drifts from Coder, and to build
 * a database with Coder's REAL tables (every column, NOT NULLs included) on which the whole stack
 * must run unchanged.
 */
export const CODER_DUMP = {
  repository: "coder/coder",
  path: "coderd/database/dump.sql",
  commit: "0001d5018f9992a7cbef90ef49f2fa4a5ba79274",
} as const;

export interface ColumnFact {
  name: string;
  type: string;
  notNull: boolean;
  /** The default expression; null = none. */
  default: string | null;
  /** A stored generated column's expression (Coder has one: provisioner_jobs.job_status). */
  generated?: string;
}

const ZERO = "'0001-01-01 00:00:00+00'::timestamp with time zone";
const TZ = "timestamp with time zone";
const c = (
  name: string,
  type: string,
  notNull: boolean,
  def: string | null = null,
): ColumnFact => ({
  name,
  type,
  notNull,
  default: def,
});

/** Every column of the five tables, in Coder's order. */
export const CODER_COLUMNS: Record<string, ColumnFact[]> = {
  templates: [
    c("id", "uuid", true),
    c("created_at", TZ, true),
    c("updated_at", TZ, true),
    c("organization_id", "uuid", true),
    c("deleted", "boolean", true, "false"),
    c("name", "character varying(64)", true),
    c("provisioner", "provisioner_type", true),
    c("active_version_id", "uuid", true),
    c("description", "character varying(128)", true, "''::character varying"),
    c("default_ttl", "bigint", true, "'604800000000000'::bigint"),
    c("created_by", "uuid", true),
    c("icon", "character varying(256)", true, "''::character varying"),
    c("user_acl", "jsonb", true, "'{}'::jsonb"),
    c("group_acl", "jsonb", true, "'{}'::jsonb"),
    c("display_name", "character varying(64)", true, "''::character varying"),
    c("allow_user_cancel_workspace_jobs", "boolean", true, "true"),
    c("allow_user_autostart", "boolean", true, "true"),
    c("allow_user_autostop", "boolean", true, "true"),
    c("failure_ttl", "bigint", true, "0"),
    c("time_til_dormant", "bigint", true, "0"),
    c("time_til_dormant_autodelete", "bigint", true, "0"),
    c("autostop_requirement_days_of_week", "smallint", true, "0"),
    c("autostop_requirement_weeks", "bigint", true, "0"),
    c("autostart_block_days_of_week", "smallint", true, "0"),
    c("require_active_version", "boolean", true, "false"),
    c("deprecated", "text", true, "''::text"),
    c("activity_bump", "bigint", true, "'3600000000000'::bigint"),
    c("max_port_sharing_level", "app_sharing_level", true, "'owner'::app_sharing_level"),
    c("use_classic_parameter_flow", "boolean", true, "false"),
    c("cors_behavior", "cors_behavior", true, "'simple'::cors_behavior"),
    c("disable_module_cache", "boolean", true, "false"),
  ],
  workspaces: [
    c("id", "uuid", true),
    c("created_at", TZ, true),
    c("updated_at", TZ, true),
    c("owner_id", "uuid", true),
    c("organization_id", "uuid", true),
    c("template_id", "uuid", true),
    c("deleted", "boolean", true, "false"),
    c("name", "character varying(64)", true),
    c("autostart_schedule", "text", false),
    c("ttl", "bigint", false),
    c("last_used_at", TZ, true, ZERO),
    c("dormant_at", TZ, false),
    c("deleting_at", TZ, false),
    c("automatic_updates", "automatic_updates", true, "'never'::automatic_updates"),
    c("favorite", "boolean", true, "false"),
    c("next_start_at", TZ, false),
    c("group_acl", "jsonb", true, "'{}'::jsonb"),
    c("user_acl", "jsonb", true, "'{}'::jsonb"),
  ],
  provisioner_jobs: [
    c("id", "uuid", true),
    c("created_at", TZ, true),
    c("updated_at", TZ, true),
    c("started_at", TZ, false),
    c("canceled_at", TZ, false),
    c("completed_at", TZ, false),
    c("error", "text", false),
    c("organization_id", "uuid", true),
    c("initiator_id", "uuid", true),
    c("provisioner", "provisioner_type", true),
    c("storage_method", "provisioner_storage_method", true),
    c("type", "provisioner_job_type", true),
    c("input", "jsonb", true),
    c("worker_id", "uuid", false),
    c("file_id", "uuid", true),
    c("tags", "jsonb", true, `'{"scope": "organization"}'::jsonb`),
    c("error_code", "text", false),
    c("trace_metadata", "jsonb", false),
    {
      name: "job_status",
      type: "provisioner_job_status",
      notNull: true,
      default: null,
      // Computed from completed_at, error, canceled_at and started_at.
      generated: `CASE WHEN completed_at IS NOT NULL THEN CASE
          WHEN error <> '' THEN 'failed'::provisioner_job_status
          WHEN canceled_at IS NOT NULL THEN 'canceled'::provisioner_job_status
          ELSE 'succeeded'::provisioner_job_status END
        ELSE CASE
          WHEN error <> '' THEN 'failed'::provisioner_job_status
          WHEN canceled_at IS NOT NULL THEN 'canceling'::provisioner_job_status
          WHEN started_at IS NULL THEN 'pending'::provisioner_job_status
          ELSE 'running'::provisioner_job_status END
        END`,
    },
    c("logs_length", "integer", true, "0"),
    c("logs_overflowed", "boolean", true, "false"),
  ],
  workspace_builds: [
    c("id", "uuid", true),
    c("created_at", TZ, true),
    c("updated_at", TZ, true),
    c("workspace_id", "uuid", true),
    c("template_version_id", "uuid", true),
    c("build_number", "integer", true),
    c("transition", "workspace_transition", true),
    c("initiator_id", "uuid", true),
    c("provisioner_state", "bytea", false),
    c("job_id", "uuid", true),
    c("deadline", TZ, true, ZERO),
    c("reason", "build_reason", true, "'initiator'::build_reason"),
    c("daily_cost", "integer", true, "0"),
    c("max_deadline", TZ, true, ZERO),
    c("template_version_preset_id", "uuid", false),
    c("has_ai_task", "boolean", false),
    c("has_external_agent", "boolean", false),
  ],
  chats: [
    c("id", "uuid", true, "gen_random_uuid()"),
    c("owner_id", "uuid", true),
    c("workspace_id", "uuid", false),
    c("title", "text", true, "'New Chat'::text"),
    c("status", "chat_status", true, "'waiting'::chat_status"),
    c("worker_id", "uuid", false),
    c("started_at", TZ, false),
    c("heartbeat_at", TZ, false),
    c("created_at", TZ, true, "now()"),
    c("updated_at", TZ, true, "now()"),
    c("parent_chat_id", "uuid", false),
    c("root_chat_id", "uuid", false),
    c("last_model_config_id", "uuid", true),
    c("archived", "boolean", true, "false"),
    c("last_error", "text", false),
    c("mode", "chat_mode", false),
    c("mcp_server_ids", "uuid[]", true, "'{}'::uuid[]"),
    c("labels", "jsonb", true, "'{}'::jsonb"),
    c("build_id", "uuid", false),
    c("agent_id", "uuid", false),
    c("pin_order", "integer", true, "0"),
    c("last_read_message_id", "bigint", false),
    c("last_injected_context", "jsonb", false),
    c("dynamic_tools", "jsonb", false),
    c("organization_id", "uuid", true),
    c("plan_mode", "chat_plan_mode", false),
    c("client_type", "chat_client_type", true, "'api'::chat_client_type"),
  ],
};

/** The enums those columns use, labels in Coder's order. */
export const CODER_ENUMS: Record<string, string[]> = {
  app_sharing_level: ["owner", "authenticated", "organization", "public"],
  automatic_updates: ["always", "never"],
  build_reason: [
    "initiator",
    "autostart",
    "autostop",
    "dormancy",
    "failedstop",
    "autodelete",
    "dashboard",
    "cli",
    "ssh_connection",
    "vscode_connection",
    "jetbrains_connection",
    "task_auto_pause",
    "task_manual_pause",
    "task_resume",
  ],
  chat_client_type: ["ui", "api"],
  chat_mode: ["computer_use", "explore"],
  chat_plan_mode: ["plan"],
  chat_status: ["waiting", "pending", "running", "paused", "completed", "error", "requires_action"],
  cors_behavior: ["simple", "passthru"],
  provisioner_job_status: [
    "pending",
    "running",
    "succeeded",
    "canceling",
    "canceled",
    "failed",
    "unknown",
  ],
  provisioner_job_type: ["template_version_import", "workspace_build", "template_version_dry_run"],
  provisioner_storage_method: ["file"],
  provisioner_type: ["echo", "terraform"],
  workspace_transition: ["start", "stop", "delete"],
};

/** Constraints among the five tables (Coder's foreign keys to other tables are left out here). */
export const CODER_CONSTRAINTS: { table: string; name: string; definition: string }[] = [
  {
    table: "workspace_builds",
    name: "workspace_builds_deadline_below_max_deadline",
    definition: `CHECK ((((deadline <> ${ZERO}) AND (deadline <= max_deadline)) OR (max_deadline = ${ZERO})))`,
  },
  {
    table: "workspace_builds",
    name: "workspace_builds_workspace_id_build_number_key",
    definition: "UNIQUE (workspace_id, build_number)",
  },
  { table: "workspace_builds", name: "workspace_builds_job_id_key", definition: "UNIQUE (job_id)" },
  {
    table: "workspace_builds",
    name: "workspace_builds_job_id_fkey",
    definition: "FOREIGN KEY (job_id) REFERENCES provisioner_jobs(id) ON DELETE CASCADE",
  },
  {
    table: "workspace_builds",
    name: "workspace_builds_workspace_id_fkey",
    definition: "FOREIGN KEY (workspace_id) REFERENCES workspaces(id) ON DELETE CASCADE",
  },
  {
    table: "workspaces",
    name: "workspaces_template_id_fkey",
    definition: "FOREIGN KEY (template_id) REFERENCES templates(id) ON DELETE RESTRICT",
  },
  {
    table: "chats",
    name: "chats_workspace_id_fkey",
    definition: "FOREIGN KEY (workspace_id) REFERENCES workspaces(id) ON DELETE SET NULL",
  },
];

/**
 * Coder's one trigger on these tables: AFTER UPDATE ON workspaces, FOR EACH ROW. When the autostart
 * schedule changed while next_start_at did not, or the workspace is dormant with a next start set,
 * it sets next_start_at to NULL. Its function is plain (not SECURITY DEFINER, no SET search_path)
 * and its UPDATE names `workspaces` unqualified, so it runs as, and resolves names through the
 * search_path of, whoever fired it: the heartbeat's role (sql/grants/function_roles.sql).
 */
export const CODER_WORKSPACE_TRIGGER = {
  name: "trigger_nullify_next_start_at_on_workspace_autostart_modificati",
  function: "nullify_next_start_at_on_workspace_autostart_modification",
} as const;

/**
 * Creates Coder's five tables as Coder has them (every column, its enums, the constraints above
 * and the trigger) in `public` of an empty database: a stand-in for a real Coder database. The DDL
 * is generated from the facts, not copied.
 */
export async function createCoderTables(client: Pick<pg.Client, "query">): Promise<void> {
  const statements: string[] = [];
  for (const [name, labels] of Object.entries(CODER_ENUMS)) {
    statements.push(
      `CREATE TYPE public.${name} AS ENUM (${labels.map((label) => `'${label}'`).join(", ")})`,
    );
  }
  for (const [table, columns] of Object.entries(CODER_COLUMNS)) {
    const definitions = columns.map((column) =>
      [
        column.name === "type" ? '"type"' : column.name,
        column.type,
        column.generated ? `GENERATED ALWAYS AS (${column.generated}) STORED` : "",
        column.default === null ? "" : `DEFAULT ${column.default}`,
        column.notNull ? "NOT NULL" : "",
      ]
        .filter(Boolean)
        .join(" "),
    );
    statements.push(`CREATE TABLE public.${table} (${definitions.join(", ")}, PRIMARY KEY (id))`);
  }
  for (const constraint of CODER_CONSTRAINTS) {
    statements.push(
      `ALTER TABLE public.${constraint.table} ADD CONSTRAINT ${constraint.name} ${constraint.definition}`,
    );
  }
  statements.push(
    `CREATE FUNCTION public.${CODER_WORKSPACE_TRIGGER.function}() RETURNS trigger LANGUAGE plpgsql AS $fn$
     BEGIN
       IF (NEW.autostart_schedule <> OLD.autostart_schedule AND NEW.next_start_at = OLD.next_start_at)
          OR (NEW.dormant_at IS NOT NULL AND NEW.next_start_at IS NOT NULL) THEN
         -- Unqualified, as in Coder: resolved through the search_path of whoever fires it.
         UPDATE workspaces SET next_start_at = NULL WHERE id = NEW.id;
       END IF;
       RETURN NEW;
     END $fn$`,
    `CREATE TRIGGER ${CODER_WORKSPACE_TRIGGER.name} AFTER UPDATE ON public.workspaces
     FOR EACH ROW EXECUTE FUNCTION public.${CODER_WORKSPACE_TRIGGER.function}()`,
  );
  for (const statement of statements) await client.query(statement);
}

export interface CatalogColumn {
  table: string;
  name: string;
  type: string;
  notNull: boolean;
  default: string | null;
}

/** Columns of the five tables as the catalog renders them, in a UTC session. */
export async function catalogColumns(client: Pick<pg.Client, "query">): Promise<CatalogColumn[]> {
  await client.query("SET TimeZone = 'UTC'");
  const { rows } = await client.query<CatalogColumn>(
    `SELECT c.relname AS table, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            a.attnotnull AS "notNull",
            CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END AS default
     FROM pg_attribute a
     JOIN pg_class c ON c.oid = a.attrelid
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
       AND c.relname = ANY ($1) AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY c.relname, a.attnum`,
    [Object.keys(CODER_COLUMNS)],
  );
  return rows;
}

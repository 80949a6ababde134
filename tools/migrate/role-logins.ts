import { z } from "zod/mini";
import type { DatabaseConfig } from "../../functions/shared/config/database.ts";
import { LOCAL_FUNCTION_LOGINS } from "../local/dev-secret.ts";
import { FUNCTION_ROLES, type FunctionName, type RoleLogin } from "./role-passwords.ts";

/** A Data API secret as Secrets Manager holds it (infra/aws/database-roles.yml generates them). */
const RoleSecret = z.object({ username: z.string(), password: z.string() });

/** Where each function's secret is named for `npm run migrate -- --grants` on AWS. */
const SECRET_VARIABLES: Record<FunctionName, string> = {
  heartbeat: "HEARTBEAT_DB_SECRET_ARN",
  reporter: "REPORTER_DB_SECRET_ARN",
};

/**
 * The functions' logins, for setting the roles' passwords: from Secrets Manager on AWS (the ARNs
 * the stack outputs), or the local stack's own when the target is a local Data API endpoint.
 */
export async function roleLogins(
  config: DatabaseConfig,
  env: Record<string, string | undefined> = process.env,
): Promise<RoleLogin[]> {
  if (config.endpoint) return Object.values(LOCAL_FUNCTION_LOGINS);
  const { getSecret } = await import("@aws-lambda-powertools/parameters/secrets");
  const logins: RoleLogin[] = [];
  for (const [fn, variable] of Object.entries(SECRET_VARIABLES) as [FunctionName, string][]) {
    const arn = env[variable];
    if (!arn) throw new Error(`${variable} must name the ${fn} function's secret`);
    const secret = RoleSecret.parse(await getSecret(arn, { transform: "json" }));
    if (secret.username !== FUNCTION_ROLES[fn]) {
      throw new Error(
        `${variable} names user "${secret.username}", expected ${FUNCTION_ROLES[fn]}`,
      );
    }
    logins.push(secret);
  }
  return logins;
}

/** The part of `migrate`'s and `report`'s usage that says which database they reach. */
export const DATA_API_TARGET_HELP = `Target, in this order:
  DB_CLUSTER_ARN set  that cluster through the RDS Data API (AWS: AWS_REGION, DB_SECRET_ARN,
                      DB_NAME; or DATA_API_ENDPOINT for a local endpoint)
  DATABASE_URL set    that PostgreSQL, through an in-process local Data API endpoint
  otherwise           the stack a running \`npm start\` recorded in .local/stack.json`;

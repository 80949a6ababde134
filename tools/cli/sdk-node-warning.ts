/**
 * Imported first by each CLI (never by the functions): the AWS SDK v3 warns once per process, on the
 * first client it builds, that its releases after January 2027 need Node >= 22. The CLIs run on the
 * machine's Node 20, so without this every `npm run migrate`/`report`/`start` output would begin
 * with that multi-line warning; the Lambda functions run nodejs22.x, where the SDK does not warn.
 * The SDK documents this switch for exactly that case (aws/aws-sdk-js-v3#7983); an operator who
 * sets it to anything else still gets the warning.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

import { type ParseArgsConfig, parseArgs } from "node:util";

/**
 * The one way the project's CLIs read their flags (node:util parseArgs, strict): `-h`/`--help`
 * prints the usage on stdout and exits 0; an unknown flag, a missing value or a stray argument
 * prints what is wrong and the usage on stderr and exits with the CLI's usage code.
 */

type Options = NonNullable<ParseArgsConfig["options"]>;

export type CommandLine<O extends Options> =
  | { kind: "help" }
  | { kind: "usage-error"; message: string }
  | { kind: "run"; values: ReturnType<typeof parseArgs<{ options: O; strict: true }>>["values"] };

/** Parses `argv` (no program name) against `options`; never throws for bad input. */
export function parseCommandLine<O extends Options>(
  argv: readonly string[],
  options: O,
): CommandLine<O> {
  // --help wins over anything else on the line, bad flags included: `--bogus --help` helps.
  if (argv.includes("--help") || argv.includes("-h")) return { kind: "help" };
  try {
    const { values } = parseArgs({
      args: [...argv],
      options,
      strict: true,
      allowPositionals: false,
    });
    return { kind: "run", values } as CommandLine<O>;
  } catch (error) {
    // parseArgs throws TypeErrors (ERR_PARSE_ARGS_*) for unknown, malformed or positional input.
    return { kind: "usage-error", message: (error as Error).message };
  }
}

/** What a CLI prints and exits with for `--help` or a usage error; undefined: go on and run. */
export function helpOrUsageError(
  line: CommandLine<Options>,
  usage: string,
  usageExitCode: number,
): { stream: "stdout" | "stderr"; text: string; exitCode: number } | undefined {
  if (line.kind === "help") return { stream: "stdout", text: `${usage}\n`, exitCode: 0 };
  if (line.kind === "usage-error") {
    return {
      stream: "stderr",
      text: `error: ${line.message}\n\n${usage}\n`,
      exitCode: usageExitCode,
    };
  }
  return undefined;
}

/**
 * For a CLI's entry point: parses the flags, and on `--help` or a usage error prints and exits the
 * process; otherwise returns the flags' values.
 */
export function commandLineOrExit<O extends Options>(
  argv: readonly string[],
  options: O,
  usage: string,
  usageExitCode: number,
) {
  const line = parseCommandLine(argv, options);
  const answer = helpOrUsageError(line, usage, usageExitCode);
  if (answer) {
    process[answer.stream].write(answer.text);
    process.exit(answer.exitCode);
  }
  return (line as Extract<CommandLine<O>, { kind: "run" }>).values;
}

/** Usage error raised after parsing (a value out of range); the CLI prints it like a bad flag. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

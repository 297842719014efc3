/**
 * A mistake in what the user asked for (a missing file, a module without a workflow, a bad option
 * value). The CLI prints its message as one line and exits with {@link USAGE_EXIT_CODE}; no stack.
 */
export class CliError extends Error {
  override readonly name: string = 'CliError';
}

/** The exit code for bad input, as most Unix tools use for usage errors. */
export const USAGE_EXIT_CODE = 2;

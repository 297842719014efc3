/**
 * The typed errors of skein/llm: what stops a model-backed agent and why.
 */

/**
 * An agent's token budget is spent: the engine refuses to ask its model again. The run fails with
 * this error (an `AgentFailed` fact and a dead letter, like any failure); `agent`, `limit` and
 * `spent` say which budget and how far it went. An agent's `retry` policy retries every error unless
 * told otherwise: exclude this one (`retryIf: (e) => !(e instanceof BudgetExceededError)`).
 *
 * @example
 * ```ts
 * import { BudgetExceededError } from 'skein/llm';
 * const error = new BudgetExceededError('triage', 10_000, 10_250);
 * console.log(error.message); // agent 'triage' spent 10250 of its 10000 tokens
 * ```
 */
export class BudgetExceededError extends Error {
  override readonly name = 'BudgetExceededError';
  readonly agent: string;
  /** The budget, in tokens. */
  readonly limit: number;
  /** Tokens spent when the engine refused. */
  readonly spent: number;

  constructor(agent: string, limit: number, spent: number, options?: ErrorOptions) {
    super(`agent '${agent}' spent ${spent} of its ${limit} tokens`, options);
    this.agent = agent;
    this.limit = limit;
    this.spent = spent;
  }
}

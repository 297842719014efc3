/**
 * `@skein/cli`: the `skein` command, and its public surface for workflow authors: the workflow
 * contract, its types, and `runWorkflow` to run one from code. The command itself is `src/bin.ts`;
 * see docs/cli.md.
 */
export {
  defineWorkflow,
  type Workflow,
  type WorkflowContext,
  type WorkflowInput,
  type WorkflowResult,
  type RunnableBoard,
} from './workflow.js';
export { runWorkflow, runWorker, type RunWorkflowOptions, type RunWorkerOptions, type ConcurrencyOverrides } from './run-workflow.js';
export type { RunSummary, RunStatus, ResumedState, ClusterState } from './summary.js';
export type { AgentTimings } from './progress-model.js';

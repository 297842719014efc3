/**
 * skein/board: a blackboard orchestrator of typed artifacts and concurrent agents, built on skein's
 * primitives. See docs/board.md.
 */
export { Board, type BoardOptions, type PublishCallOptions, type IdleOptions, type BoardStats, type AgentStats, type BoardGraph } from './board.js';
export { withBoardDefaults } from './board-defaults.js';
export { Schedule, type ScheduleOptions, type MissedTicks } from './schedule.js';
export {
  AgentBuilder,
  type ConsumeOptions,
  type BatchOptions,
  type JoinOptions,
  type TagFilter,
  type PublishOptions,
  type Engine,
  type EngineLike,
  type Scorer,
  type BestOfOptions,
  type Output,
  type HandlerResult,
} from './agent.js';
export {
  artifactType,
  isDraft,
  type Artifact,
  type ArtifactType,
  type ArtifactTypeOf,
  type AnyArtifactType,
  type PayloadOf,
  type InputOf,
  type Draft,
  type DraftOptions,
  type TraceRef,
} from './artifact.js';
export {
  AgentFailed,
  JoinExpired,
  LoopDetected,
  TimerTick,
  type TimerTickPayload,
  type AgentFailedPayload,
  type JoinExpiredPayload,
  type LoopDetectedPayload,
  type ErrorSummary,
} from './builtins.js';
export type { AgentContext, BoardReader } from './context.js';
export type { AgentHooks, AgentInfo } from './hooks.js';
export type { BoardComponent, PublishDecision, ScheduleDecision, ScheduleCandidate, FailureInfo } from './components.js';
export { ValidationError, BoardClosedError, PublishBlockedError, OutputError, type ValidationIssue } from './errors.js';
export type { BoardEvent, BoardEventKind, EventStreamOptions } from './events.js';
export type { StandardSchemaV1 } from './standard-schema.js';
export type { BoardStore, ArtifactQuery, RunRecord, RunState, WorkflowState, DeadLetter, DeadLetterQuery, Awaitable, StoreNotice, TimerRecord } from './store/contract.js';
export { MemoryStore, type MemoryStoreOptions } from './stores/memory-store.js';
export { visibility, type Visibility, type PublicVisibility, type PrivateVisibility, type LabelledVisibility, type TenantVisibility } from './visibility.js';
export { Workflow, type WaitOptions } from './workflow.js';
export {
  artifactCount,
  artifactExists,
  workflowDone,
  idle,
  predicate,
  any,
  all,
  type Condition,
  type ConditionView,
  type ArtifactConditionOptions,
} from './conditions.js';
export type { RunUntilOptions } from './run-until.js';
export { WorkflowRun, WorkflowFailedError, type StartOptions, type WorkflowOutputs, type WorkflowStatus } from './app.js';
export type { InvokeOptions, InvokeInput } from './invoke.js';

/**
 * skein/board/store: what a store author needs. The contract every store implements
 * ({@link BoardStore}), the pure gate logic every store applies inside its units, the memory store and
 * (in tests) the contract suite. Board users never need this entry.
 */
export type {
  AdmissionAnswer,
  AdmissionRequest,
  Awaitable,
  ArtifactQuery,
  ArtifactWrite,
  BoardStore,
  ClaimedRun,
  ClaimRef,
  ClaimRequest,
  Completion,
  CompletionItem,
  DeadLetter,
  DeadLetterQuery,
  GateClose,
  GateDeposit,
  NewRun,
  OutputWrite,
  Pending,
  PublishUnit,
  RunLimitReached,
  RunQuery,
  RunRecord,
  RunState,
  StoreNotice,
  TimerDefinition,
  TimerFire,
  TimerRecord,
  StoredValue,
  UnitResult,
  WorkflowChange,
  WorkflowState,
} from './contract.js';
export { checkEmbargoWrite } from './contract.js';
export {
  batchDepositOf,
  entryIds,
  depositIntoGate,
  cloneGate,
  entriesAt,
  expireGate,
  gateKey,
  isEmptyGate,
  openGate,
  removeWorkflowFromGate,
  waitingAt,
  waitingIds,
  type GateEntry,
  type GateExpiry,
  type GateKind,
  type GateState,
  type GateTransition,
} from './gate-state.js';
export { MemoryStore, type MemoryStoreOptions } from '../stores/memory-store.js';

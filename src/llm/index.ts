/**
 * skein/llm: agents backed by language models, on the AI SDK (`ai` version 6, an optional peer
 * dependency). See docs/llm.md.
 */
export {
  llmEngine,
  llmTool,
  isTransientModelError,
  type LlmEngineOptions,
  type LlmTool,
  type LlmToolOptions,
  type LlmBudget,
  type LlmProgress,
  type LanguageModelLike,
} from './llm-engine.js';
export { BudgetExceededError } from './errors.js';
export { defaultPrompt } from './prompt.js';

/**
 * The default prompt: what an agent's inputs look like to a model when the agent does not write its
 * own. Each artifact is named by its type and id, with its payload as JSON, so the model sees the
 * same data the agent received and can tell several inputs apart.
 */
import type { Artifact } from '../board/artifact.js';

function isArtifact(value: unknown): value is Artifact {
  return typeof value === 'object' && value !== null && typeof (value as Artifact).type === 'string' && typeof (value as Artifact).id === 'string' && 'payload' in value;
}

/**
 * Serialises an engine's input for a model: an array of artifacts (what the first engine of an agent
 * receives) as one section per artifact, headed by its type and id, with its payload as JSON;
 * anything else (an earlier engine's output) as JSON.
 *
 * @example
 * ```ts
 * import { defaultPrompt } from 'skein/llm';
 * console.log(defaultPrompt({ title: 'Crash on start' })); // '{\n  "title": "Crash on start"\n}'
 * ```
 */
export function defaultPrompt(input: unknown): string {
  if (Array.isArray(input) && input.length > 0 && input.every(isArtifact)) {
    return (input as readonly Artifact[]).map((artifact) => `## ${artifact.type} (${artifact.id})\n${JSON.stringify(artifact.payload, null, 2)}`).join('\n\n');
  }
  if (typeof input === 'string') return input;
  return JSON.stringify(input, null, 2) ?? String(input);
}

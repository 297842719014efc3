/** The fixtures of the store contract suite: artifacts, runs and writes with ids unique per suite run. */
import type { Artifact } from '../artifact.js';
import type { ArtifactWrite, GateDeposit, NewRun, OutputWrite } from '../store/contract.js';

export const T0 = Date.UTC(2026, 0, 1);

/** Fixtures with ids unique per suite run. */
export class Fixtures {
  #n = 0;

  artifact(overrides: Partial<Artifact> = {}): Artifact {
    const n = ++this.#n;
    return {
      id: `a${n}`,
      type: 'Note',
      payload: { n },
      producedBy: 'external',
      correlationId: 'wf1',
      tags: [],
      visibility: { kind: 'public' },
      createdAt: new Date(T0 + n * 1000).toISOString(),
      causedBy: [],
      ...overrides,
    };
  }

  run(inputs: readonly Artifact[], overrides: Partial<NewRun> = {}): NewRun {
    return { id: `r${++this.#n}`, agent: 'worker', subscription: 0, inputIds: inputs.map((a) => a.id), correlationId: inputs[0]?.correlationId ?? 'wf1', ...overrides };
  }

  /** An artifact with one direct run of `agent`. */
  scheduled(agent = 'worker', overrides: Partial<Artifact> = {}): ArtifactWrite {
    const artifact = this.artifact(overrides);
    return { artifact, runs: [this.run([artifact], { agent })], deposits: [] };
  }

  deposit(artifact: Artifact, gate: Omit<GateDeposit, 'artifactId' | 'correlationId' | 'runId'>): ArtifactWrite {
    return { artifact, runs: [], deposits: [{ ...gate, artifactId: artifact.id, correlationId: artifact.correlationId, runId: `r${++this.#n}` }] };
  }

  output(index: number, overrides: Partial<Artifact> = {}, agent?: string): OutputWrite {
    const artifact = this.artifact({ producedBy: 'worker', ...overrides });
    return { index, artifact, runs: agent === undefined ? [] : [this.run([artifact], { agent })], deposits: [] };
  }
}

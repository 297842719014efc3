/**
 * The checks a SQL store makes on a unit's writes before its transaction starts: everything that
 * could make the unit fail in process (an artifact id twice in one unit, a deposit naming positions
 * its gate does not have), so that a batch of completions rejects such an item alone, up front.
 */
import { checkEmbargoWrite, type ArtifactWrite } from './contract.js';

/** Throws when `writes` could not be applied; a unit of one write (the common case) allocates nothing. */
export function checkWrites(writes: readonly ArtifactWrite[]): void {
  const ids = writes.length > 1 ? new Set<string>() : undefined;
  for (const write of writes) {
    const id = write.artifact.id;
    if (ids?.has(id) === true) throw new Error(`an artifact with id ${id} is already stored`);
    checkEmbargoWrite(write);
    ids?.add(id);
    for (const deposit of write.deposits) {
      const width = deposit.kind === 'batch' ? 1 : deposit.typeNames.length;
      if (deposit.positions.length === 0 || deposit.positions.some((p) => !Number.isInteger(p) || p < 0 || p >= width)) {
        throw new RangeError(`deposit into gate ${deposit.key} names positions ${deposit.positions.join(', ')} of ${width}`);
      }
      if (deposit.kind === 'batch' && (deposit.batchSize === undefined || deposit.batchSize < 1)) {
        throw new RangeError(`batch deposit into gate ${deposit.key} needs a batchSize >= 1`);
      }
    }
  }
}

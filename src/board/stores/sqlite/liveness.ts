/**
 * Whether the process behind an owner name is still alive. A board names itself as the owner of the
 * runs it claims; the store records which host and process id claimed under that name, so that a
 * board opened after a crash can requeue a dead process's runs at once instead of waiting for their
 * leases to expire.
 *
 * Only processes on this host can be checked (by signal 0). A recycled process id makes a dead owner
 * look alive: the runs then wait for their leases, which is slower but never wrong. An owner on
 * another host is never judged dead here.
 */
import { hostname } from 'node:os';

/** This process, as recorded beside the owner names it claims under. */
export interface ProcessIdentity {
  readonly host: string;
  readonly pid: number;
}

export function currentProcess(): ProcessIdentity {
  return { host: hostname(), pid: process.pid };
}

/** True unless `identity` is a process of this host that no longer exists. */
export function mayBeAlive(identity: ProcessIdentity, here: ProcessIdentity = currentProcess()): boolean {
  if (identity.host !== here.host || identity.pid === here.pid) return true;
  try {
    process.kill(identity.pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, but belongs to another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

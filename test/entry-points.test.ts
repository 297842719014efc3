/**
 * What each entry point exports, and the names kept for code written against older ones: the root
 * entry holds only what runs everywhere; Node-only pieces are in `skein/node`.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as root from 'skein';
import * as node from 'skein/node';
import * as served from 'skein/serve';
import * as llm from 'skein/llm';
import { AbortError, CancelledError, Emitter, EventEmitter, Mutex } from 'skein';

describe('entry points', () => {
  it('keeps Node-only pieces out of the root entry', () => {
    expect(root).not.toHaveProperty('main');
    expect(root).not.toHaveProperty('monitorEventLoop');
    expect(typeof node.main).toBe('function');
    expect(typeof node.monitorEventLoop).toBe('function');
  });

  it('keeps the HTTP server in skein/serve, out of the root entry', () => {
    expect(root).not.toHaveProperty('serve');
    expect(Object.keys(served).sort()).toEqual(['WEBHOOK_ID_HEADER', 'WEBHOOK_SIGNATURE_HEADER', 'WEBHOOK_TIMESTAMP_HEADER', 'serve', 'signWebhook', 'verifyWebhook']);
  });

  it('keeps the language-model engine in skein/llm, out of the root and board entries', async () => {
    const board = await import('skein/board');
    expect(root).not.toHaveProperty('llmEngine');
    expect(board).not.toHaveProperty('llmEngine');
    expect(Object.keys(llm).sort()).toEqual(['BudgetExceededError', 'defaultPrompt', 'isTransientModelError', 'llmEngine', 'llmTool']);
  });

  it('exports every from both the root entry and skein/node, as one function', () => {
    expect(root.every).toBe(node.every);
  });
});

describe('names', () => {
  it('exports CancelledError under the name it prints with, AbortError', () => {
    const error = new CancelledError('stopped');
    expect(AbortError).toBe(CancelledError);
    expect(error).toBeInstanceOf(AbortError);
    expect(String(error)).toBe('AbortError: stopped');
    expectTypeOf<AbortError>().toEqualTypeOf<CancelledError>();
  });

  it('keeps EventEmitter as a deprecated alias of Emitter', () => {
    expect(EventEmitter).toBe(Emitter);
  });

  it('runs a task under a Mutex with run, and still with the deprecated runExclusive', async () => {
    const mutex = new Mutex();
    expect(await mutex.run(() => 'run')).toBe('run');
    expect(await mutex.runExclusive(() => 'runExclusive')).toBe('runExclusive');
    expect(mutex.locked).toBe(false);
  });
});

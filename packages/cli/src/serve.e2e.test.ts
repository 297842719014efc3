/**
 * `skein serve` as a real process: it prints the URL it bound (port 0), answers the API, refuses a
 * write without the token, runs what is published with it, and exits 143 on SIGTERM after aborting
 * the run in flight and running the workflow's cleanups.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { killChildren, startCli, type RunningCli } from './fixtures/cli-process.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const slow = fileURLToPath(new URL('./fixtures/slow.workflow.ts', import.meta.url));
const TOKEN = 'e2e-serve-token-0123456789';
const start = (args: readonly string[], env: NodeJS.ProcessEnv = {}): RunningCli => startCli(args, { SKEIN_SERVE_TOKEN: undefined, ...env });

afterEach(killChildren);

const publish = (url: string, headers: Record<string, string>, n: number): Promise<Response> =>
  fetch(new URL('api/artifacts', url), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ type: 'Tick', payload: { n } }) });

describe('skein run --dashboard', () => {
  it('serves the running board on the port it prints with a token of its own, and stops serving when the run is interrupted', async () => {
    const run = start(['run', slow, '--dashboard=0', '--quiet']);
    await run.until(({ stderr }) => /dashboard at http:\/\/127\.0\.0\.1:\d+\/#token=\S+\n/.test(stderr) && stderr.includes('started 1\n'));
    let stderr = '';
    await run.until((out) => ((stderr = out.stderr), true));
    const [, url, token] = /dashboard at (http:\/\/127\.0\.0\.1:\d+\/)#token=(\S+)\n/.exec(stderr)!;
    const stats = await fetch(new URL('api/stats', url));
    expect(stats.status).toBe(200);
    expect((await publish(url!, {}, 9)).status).toBe(401);
    expect((await publish(url!, { authorization: `Bearer ${token!}` }, 9)).status).toBe(201);
    run.child.kill('SIGTERM');
    const result = await run.done;
    expect(result.code).toBe(143);
    expect(result.stderr).toContain('cleanup ran\n');
    await expect(fetch(new URL('api/stats', url))).rejects.toThrow();
  });
});

describe('skein serve', () => {
  it('serves the board on the port it prints, refuses a write without the token, runs one with it, and exits 143 on SIGTERM', async () => {
    const server = start(['serve', slow, '--port', '0'], { SKEIN_SERVE_TOKEN: TOKEN });
    await server.until(({ stdout }) => /^http:\/\/127\.0\.0\.1:\d+\/$/m.test(stdout));
    const printed = /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(await stdoutOf(server))![1]!;

    const stats = await fetch(new URL('api/stats', printed));
    expect(stats.status).toBe(200);
    const body = (await stats.json()) as { agents: Record<string, unknown> };
    expect(Object.keys(body.agents)).toEqual(['wait']);

    const refused = await publish(printed, {}, 1);
    expect(refused.status).toBe(401);
    const wrong = await publish(printed, { authorization: 'Bearer not-the-token-at-all' }, 1);
    expect(wrong.status).toBe(401);
    const accepted = await publish(printed, { authorization: `Bearer ${TOKEN}` }, 7);
    expect(accepted.status).toBe(201);
    await server.until(({ stderr }) => stderr.includes('started 7\n'));

    server.child.kill('SIGTERM');
    const result = await server.done;
    expect(result.code).toBe(143);
    // The run in flight was aborted and awaited, then the workflow's cleanup ran; only one run ever started.
    expect(result.stderr).toContain('abort seen 7\n');
    expect(result.stderr).toContain('stopped 7\n');
    expect(result.stderr).toContain('cleanup ran\n');
    expect(result.stderr).not.toContain('started 1\n');
    // Nothing left running: the process is gone.
    expect(() => process.kill(server.child.pid!, 0)).toThrow();
  });

  it('refuses to start without a token, and --no-auth off loopback, with the usage code', async () => {
    const noToken = await start(['serve', slow, '--port', '0']).done;
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain('skein serve needs a token for writes');
    const open = await start(['serve', slow, '--port', '0', '--host', '0.0.0.0', '--no-auth']).done;
    expect(open.code).toBe(2);
    expect(open.stderr).toContain('--no-auth is allowed only on a loopback address');
    const badPort = await start(['serve', slow, '--port', '70000', '--no-auth']).done;
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain('--port must be a port number');
  });
});

async function stdoutOf(running: RunningCli): Promise<string> {
  let stdout = '';
  await running.until((out) => ((stdout = out.stdout), true));
  return stdout;
}

/**
 * The skein/serve dashboard in headless Chromium (Debian's chromium through playwright-core): the
 * dashboard of a running workflow shows the agent graph and its live counts, publishing through the
 * form creates an artifact the stream shows, pausing from the page pauses the workflow, and a dead
 * letter replays from its button. With SKEIN_UPDATE_SCREENSHOTS=1 it saves the screenshot docs/serve.md shows.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Board, artifactType } from 'skein/board';
import { serve } from 'skein/serve';
import { chromiumUnavailable, withChromiumPage } from './chromium.js';

// The screenshot docs/serve.md shows is taken anew only when asked (SKEIN_UPDATE_SCREENSHOTS=1), so
// that a test run leaves the checkout as it found it; otherwise it goes to .tmp, and is still taken.
const screenshot = fileURLToPath(
  new URL(process.env.SKEIN_UPDATE_SCREENSHOTS === '1' ? '../docs/serve-dashboard.png' : '../.tmp/serve-dashboard.png', import.meta.url),
);
const TOKEN = 'dashboard-token-0123456789';
const Order = artifactType('Order', z.object({ qty: z.number().int().min(1), customer: z.string() }));
const Invoice = artifactType('Invoice', z.object({ total: z.number() }));
const Shipment = artifactType('Shipment', z.object({ carrier: z.string() }));

const unavailable = chromiumUnavailable();
if (unavailable !== undefined) console.warn(`skipping the dashboard browser test: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('the dashboard in headless Chromium', () => {
  it('shows the graph with live counts, publishes from the form, pauses a workflow and replays a dead letter', async () => {
    await using board = new Board();
    let releaseSlow!: () => void;
    const slow = new Promise<void>((resolve) => (releaseSlow = resolve));
    let shipFails = true;
    board.agent('billing').consumes(Order).publishes(Invoice).maxConcurrency(4).handle(async ([order]) => {
      if (order.payload.customer === 'slow') await slow;
      return { total: order.payload.qty * 10 };
    });
    board.agent('shipping').consumes(Invoice).publishes(Shipment).retry({ maxAttempts: 1 }).handle(([invoice]) => {
      if (shipFails && invoice.payload.total === 990) throw new Error('carrier down');
      return { carrier: 'post' };
    });
    board.agent('archive').consumes(Shipment).handle(() => {});
    await using server = await serve(board, { token: TOKEN });

    for (let i = 1; i <= 3; i++) await board.publish(Order, { qty: i, customer: `c${i}` }, { correlationId: `wf-${i}` });
    await board.publish(Order, { qty: 99, customer: 'c99' }, { correlationId: 'wf-dead' });
    await board.runUntilIdle();
    await board.publish(Order, { qty: 5, customer: 'slow' }, { correlationId: 'wf-running' });

    await withChromiumPage(async (page) => {
      await page.goto(`${server.url}#token=${TOKEN}`);
      await page.waitForSelector('body[data-ready="true"]');

      // the graph: every agent, with its counts; 'billing' is running the slow order right now
      for (const agent of ['billing', 'shipping', 'archive']) await page.waitForSelector(`g[data-agent="${agent}"]`);
      await page.waitForSelector('g[data-agent="billing"][data-running="1"]');
      expect(await page.getAttribute('g[data-agent="archive"]', 'data-done')).toBe('3');
      await page.waitForSelector('#dead-letters tr[data-dead-letter]');

      // live counts: the slow run finishes and the page follows through the event stream
      releaseSlow();
      await board.runUntilIdle();
      await page.waitForSelector('g[data-agent="archive"][data-done="4"]');
      await page.waitForSelector('g[data-agent="billing"][data-running="0"]');

      // publish through the form generated from the schema
      await page.selectOption('#pub-type', 'Order');
      await page.fill('#pub-fields input[name="qty"]', '7');
      await page.fill('#pub-fields input[name="customer"]', 'from the form');
      await page.fill('#pub-cid', 'wf-form');
      await page.click('#publish button[type="submit"]');
      await page.waitForSelector(`#artifacts li[data-type="Invoice"]:has-text('"total": 70')`);
      const fromForm = await board.store.list({ type: Order, correlationId: 'wf-form' });
      expect(fromForm.map((a) => a.payload)).toEqual([{ qty: 7, customer: 'from the form' }]);
      await page.waitForSelector(`#artifacts li[data-artifact="${fromForm[0]!.id}"]`);

      // an invalid publish is refused with its failing path, and nothing is stored
      await page.fill('#pub-fields input[name="qty"]', '0');
      await page.click('#publish button[type="submit"]');
      await page.waitForSelector('#notice.error:has-text("qty")');
      expect(await board.store.list({ type: Order, correlationId: 'wf-form' })).toHaveLength(1);

      // pause a workflow from the page
      await page.fill('#wf-id', 'wf-paused');
      await page.click('#wf-pause');
      await page.waitForSelector('#wf-state[data-state="paused"]');
      expect(board.workflow('wf-paused').state).toBe('paused');
      await board.publish(Order, { qty: 1, customer: 'held' }, { correlationId: 'wf-paused' });
      expect((await board.store.pending({ correlationId: 'wf-paused' })).paused).toBe(1);

      // replay the dead letter from its button
      shipFails = false;
      const [letter] = await board.deadLetters();
      await page.click(`button[data-replay="${letter!.id}"]`);
      await page.waitForSelector('#notice.ok:has-text("replayed")');
      await board.workflow('wf-dead').done();
      expect(await board.deadLetters()).toEqual([]);
      expect((await board.store.list({ type: Shipment, correlationId: 'wf-dead' })).length).toBe(1);
      await page.waitForSelector('#dead-letters:not(:has(tr))', { state: 'attached' });

      await page.click('#wf-resume');
      await page.waitForSelector('#wf-state[data-state="active"]');
      await board.workflow('wf-paused').done();
      await page.waitForSelector('g[data-agent="archive"][data-done="7"]');
      await page.screenshot({ path: screenshot, fullPage: true });
    });
  }, 120_000);
});

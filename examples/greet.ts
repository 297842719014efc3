/**
 * The smallest workflow `skein run` accepts: one agent greets every name given on the command line.
 *
 *   npx tsx packages/cli/src/bin.ts run examples/greet.ts Ada Grace Edsger
 */
import { Board, artifactType } from 'skein/board';
import { defineWorkflow } from '@skein/cli';
import { z } from 'zod';

const Name = artifactType('Name', z.string());
const Greeting = artifactType('Greeting', z.string());

export default defineWorkflow({
  name: 'greet',
  createBoard(ctx) {
    const board = new Board();
    board
      .agent('greeter')
      .consumes(Name)
      .publishes(Greeting)
      .maxConcurrency(ctx.concurrency('greeter', 2))
      .handle(([name]) => `hello, ${name.payload}`);
    return board;
  },
  inputs: (ctx) => (ctx.args.length > 0 ? ctx.args : ['world']).map((name) => ({ type: Name, payload: name })),
  async finish(_ctx, board) {
    const greetings = await board.store.list({ type: Greeting });
    return { notes: greetings.map((g) => g.payload).sort() };
  },
});

import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Board, artifactType, visibility, type Artifact } from 'skein/board';

const Record_ = artifactType('Record', z.object({ patient: z.string() }));
const Note = artifactType('Note', z.object({ text: z.string() }));

async function whoRuns(publishVisibility: ReturnType<typeof visibility.private> | ReturnType<typeof visibility.labels> | ReturnType<typeof visibility.tenant>) {
  await using board = new Board();
  const ran: string[] = [];
  board.agent('doctor').labels('medical', 'staff').tenant('clinic-a').consumes(Record_).handle(() => void ran.push('doctor'));
  board.agent('nurse').labels('medical').tenant('clinic-b').consumes(Record_).handle(() => void ran.push('nurse'));
  board.agent('billing').tenant('clinic-a').consumes(Record_).handle(() => void ran.push('billing'));
  await board.publish(Record_, { patient: 'p' }, { visibility: publishVisibility });
  await board.runUntilIdle();
  return ran.sort();
}

describe('visibility', () => {
  it('schedules only the agents on a private allow-list', async () => {
    expect(await whoRuns(visibility.private(['doctor', 'billing']))).toEqual(['billing', 'doctor']);
  });

  it('schedules only agents carrying every label', async () => {
    expect(await whoRuns(visibility.labels(['medical', 'staff']))).toEqual(['doctor']);
    expect(await whoRuns(visibility.labels(['medical']))).toEqual(['doctor', 'nurse']);
  });

  it('schedules only agents of the tenant', async () => {
    expect(await whoRuns(visibility.tenant('clinic-a'))).toEqual(['billing', 'doctor']);
  });

  it('schedules everyone for public artifacts (the default)', async () => {
    expect(await whoRuns(visibility.public() as never)).toEqual(['billing', 'doctor', 'nurse']);
  });

  it('hides what an agent may not see when it reads the board, and lets a producer see its own', async () => {
    await using board = new Board();
    const seen: Record<string, string[]> = {};
    board
      .agent('writer')
      .consumes(Note, { where: (a) => a.payload.text === 'go' })
      .publishes(Record_, { visibility: visibility.private(['doctor']) })
      .handle(async (_inputs, ctx) => {
        const own = await ctx.publish(Record_, { patient: 'secret' });
        seen.writer = [(await ctx.board.get(own.id))?.payload ? 'own' : 'none'];
      });
    const look = (name: string) => async (_inputs: unknown, ctx: { board: { list: (q: object) => Promise<Artifact[]> } }) => {
      seen[name] = (await ctx.board.list({ type: Record_ })).map((a) => (a.payload as { patient: string }).patient);
    };
    board.agent('doctor').consumes(Note, { where: (a) => a.payload.text === 'look' }).handle(look('doctor'));
    board.agent('clerk').consumes(Note, { where: (a) => a.payload.text === 'look' }).handle(look('clerk'));
    await board.publish(Note, { text: 'go' }, { correlationId: 'c' });
    await board.runUntilIdle();
    await board.publish(Record_, { patient: 'open' }, { correlationId: 'c' });
    await board.publish(Note, { text: 'look' }, { correlationId: 'c' });
    await board.runUntilIdle();
    expect(seen).toEqual({ writer: ['own'], doctor: ['secret', 'open'], clerk: ['open'] });
  });

  it('lets an output override its declared visibility', async () => {
    await using board = new Board();
    let reached = 0;
    board
      .agent('writer')
      .consumes(Note)
      .publishes(Record_, { visibility: visibility.private(['nobody']) })
      .handle(() => Record_.draft({ patient: 'x' }, { visibility: visibility.public() }));
    board.agent('reader').consumes(Record_).handle(() => void reached++);
    await board.publish(Note, { text: 'x' });
    await board.runUntilIdle();
    expect(reached).toBe(1);
  });

  it('rejects malformed visibility values', () => {
    expect(() => visibility.private('doctor' as never)).toThrow(TypeError);
    expect(() => visibility.labels([''])).toThrow(TypeError);
    expect(() => visibility.tenant('')).toThrow(TypeError);
  });
});

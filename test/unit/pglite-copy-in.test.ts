import { PGlite } from '@electric-sql/pglite';
import { serialize } from 'pg-protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withCopyFromStdin } from '../../functions/cli/pglite-copy-in';

/** The message types of a backend answer, in order ('G' CopyInResponse, 'E' error, 'C', 'Z' ...). */
function messageTypes(answer: Uint8Array): string[] {
  const types: string[] = [];
  for (let at = 0; at + 5 <= answer.length; at += 1 + Buffer.from(answer.buffer, answer.byteOffset + at + 1, 4).readInt32BE(0)) {
    types.push(String.fromCharCode(answer[at] as number));
  }
  return types;
}

/** Sends wire messages one at a time, as pglite-socket does, and returns the answer's message types. */
async function send(db: PGlite, messages: Uint8Array[]): Promise<string[]> {
  const answer: Uint8Array[] = [];
  for (const message of messages) await db.execProtocolRawStream(message, { onRawData: (data) => answer.push(data.slice()) });
  return messageTypes(new Uint8Array(Buffer.concat(answer)));
}

describe('COPY FROM STDIN on the embedded database, one wire message at a time (withCopyFromStdin)', () => {
  let db: PGlite;
  beforeAll(async () => {
    db = withCopyFromStdin(await PGlite.create());
    await db.exec('CREATE TABLE t (a int PRIMARY KEY, b text)');
  });
  afterAll(async () => {
    await db.close();
  });

  it("loads the rows, and the client sees one CopyInResponse (ours), then PGlite's completion", async () => {
    const types = await send(db, [
      serialize.query('COPY t FROM STDIN'),
      serialize.copyData(Buffer.from('1\tx\n2\ty\n')),
      serialize.copyData(Buffer.from('3\tz\n')),
      serialize.copyDone(),
    ]);
    expect(types).toEqual(['G', 'C', 'Z']);
    expect((await db.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 3 }]);
  });

  it('a row the table refuses fails the whole COPY: nothing is loaded, the error reaches the client, and the session goes on', async () => {
    const types = await send(db, [
      serialize.query('COPY t FROM STDIN'),
      serialize.copyData(Buffer.from('4\tnew\n')),
      serialize.copyData(Buffer.from('1\tduplicate\n')),
      serialize.copyDone(),
    ]);
    expect(types).toEqual(['G', 'E', 'Z']);
    expect((await db.query('SELECT a FROM t ORDER BY a')).rows).toEqual([{ a: 1 }, { a: 2 }, { a: 3 }]);
  });

  it('a client that gives up (CopyFail) loads nothing', async () => {
    const types = await send(db, [
      serialize.query('COPY t FROM STDIN'),
      serialize.copyData(Buffer.from('5\tx\n')),
      serialize.copyFail('stopped'),
    ]);
    expect(types).toEqual(['G', 'E', 'Z']);
    expect((await db.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 3 }]);
  });
});

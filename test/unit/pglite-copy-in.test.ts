import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { serialize } from 'pg-protocol';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
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
  /** `COPY t FROM STDIN` of `chunks`, one CopyData each, ended by `end` (CopyDone unless told). */
  const copyIntoT = (chunks: string[], end = serialize.copyDone()) =>
    send(db, [serialize.query('COPY t FROM STDIN'), ...chunks.map((chunk) => serialize.copyData(Buffer.from(chunk))), end]);

  it("loads the rows, and the client sees one CopyInResponse (ours), then PGlite's completion", async () => {
    const types = await copyIntoT(['1\tx\n2\ty\n', '3\tz\n']);
    expect(types).toEqual(['G', 'C', 'Z']);
    expect((await db.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 3 }]);
  });

  it('a row the table refuses fails the whole COPY: nothing is loaded, the error reaches the client, and the session goes on', async () => {
    const types = await copyIntoT(['4\tnew\n', '1\tduplicate\n']);
    expect(types).toEqual(['G', 'E', 'Z']);
    expect((await db.query('SELECT a FROM t ORDER BY a')).rows).toEqual([{ a: 1 }, { a: 2 }, { a: 3 }]);
  });

  it('a client that gives up (CopyFail) loads nothing', async () => {
    const types = await copyIntoT(['5\tx\n'], serialize.copyFail('stopped'));
    expect(types).toEqual(['G', 'E', 'Z']);
    expect((await db.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 3 }]);
  });
});

describe('several clients of the socket server (`serve`): each COPY loads only its own rows', () => {
  let raw: PGlite;
  let db: PGlite;
  let server: PGLiteSocketServer;
  let dir: string;
  const clients: pg.Client[] = [];
  beforeAll(async () => {
    raw = await PGlite.create();
    await raw.exec('CREATE TABLE a (v text); CREATE TABLE b (v text)');
    db = withCopyFromStdin(raw);
    dir = mkdtempSync(join(tmpdir(), 'copy-in-'));
    server = new PGLiteSocketServer({ db, path: join(dir, '.s.PGSQL.5432'), maxConnections: 4 });
    await server.start();
  });
  afterAll(async () => {
    for (const client of clients) await client.end().catch(() => {});
    await server.stop();
    await raw.close();
  });

  const connect = async () => {
    const client = new pg.Client({ host: dir, port: 5432, user: 'postgres', database: 'postgres' });
    client.on('error', () => {}); // the one dropped on purpose
    await client.connect();
    clients.push(client);
    return client;
  };
  const copy = (client: pg.Client, table: string, text: string) =>
    new Promise<void>((resolve, reject) => {
      const stream = client.query(copyFrom(`COPY ${table} FROM STDIN`));
      stream.on('finish', resolve);
      stream.on('error', reject);
      stream.end(text);
    });
  const rows = async (table: string) => (await raw.query<{ v: string }>(`SELECT v FROM ${table} ORDER BY v`)).rows.map((row) => row.v);

  it("a client gone mid-COPY loads nothing, and the next client's COPY loads its rows", async () => {
    const dropped = await connect();
    const stream = dropped.query(copyFrom('COPY a FROM STDIN'));
    stream.on('error', () => {});
    stream.write('from the dropped client\n');
    await vi.waitFor(() => expect(db.isInTransaction()).toBe(true));
    (dropped as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await vi.waitFor(() => expect(db.isInTransaction()).toBe(false));

    await copy(await connect(), 'b', 'from the next client\n');
    expect(await rows('a')).toEqual([]);
    expect(await rows('b')).toEqual(['from the next client']);
  });

  it("two clients copying at once: each table gets its own client's rows", async () => {
    const [first, second] = await Promise.all([connect(), connect()]);
    await Promise.all([copy(first, 'a', 'first 1\nfirst 2\n'), copy(second, 'b', 'second 1\nsecond 2\n')]);
    expect(await rows('a')).toEqual(['first 1', 'first 2']);
    expect(await rows('b')).toEqual(['from the next client', 'second 1', 'second 2']);
  });
});

import type { PGlite } from '@electric-sql/pglite';

type ExecStream = PGlite['execProtocolRawStream'];

const QUERY = 0x51; // 'Q'
const COPY_DATA = 0x64; // 'd'
const COPY_DONE = 0x63; // 'c'
const COPY_FAIL = 0x66; // 'f'
const COPY_IN_RESPONSE = 0x47; // 'G'

/** A Query message whose text is a COPY ... FROM STDIN (restore's load). */
const COPY_FROM_STDIN = /^\s*COPY\b[\s\S]*\bFROM\s+STDIN\b/i;

/**
 * PGlite with COPY ... FROM STDIN over pglite-socket. The socket server hands PGlite one wire
 * message at a time, and PGlite's single backend then reads its COPY data from an empty input:
 * "unexpected EOF on client connection" at the first row, so `restore` could not load the
 * embedded database. PGlite does run a COPY whose data comes in the same call (checked with
 * PGlite 0.5), so this answers the COPY's Query itself with a CopyInResponse, gathers the
 * client's CopyData until CopyDone (or CopyFail), and runs them as one call, passing on
 * everything PGlite answers but its own CopyInResponse. The whole COPY is held in memory until
 * then: a day of a busy table costs its size in COPY text; on PostgreSQL the load streams.
 *
 * One COPY at a time, from one client: while a COPY is gathered the database reports itself in a
 * transaction, which is how pglite-socket's queue already keeps another connection's messages
 * (`serve` takes several) out of a transaction in progress. A client that disconnects mid-COPY
 * gets the ROLLBACK the socket server sends for an open transaction: its COPY is dropped there,
 * loading nothing, and the next client's COPY starts clean.
 */
export function withCopyFromStdin(db: PGlite): PGlite {
  let pending: Uint8Array[] | undefined;
  const execStream: ExecStream = async (message, options) => {
    const type = message[0];
    if (pending === undefined && type === QUERY && COPY_FROM_STDIN.test(queryText(message))) {
      pending = [message];
      options?.onRawData?.(copyInResponse());
      return;
    }
    if (pending !== undefined && type === COPY_DATA) {
      pending.push(message);
      return;
    }
    if (pending !== undefined && (type === COPY_DONE || type === COPY_FAIL)) {
      const whole = concat([...pending, message]);
      pending = undefined;
      const answer: Uint8Array[] = [];
      await db.execProtocolRawStream(whole, { ...options, onRawData: (data) => answer.push(data.slice()) });
      const passed = withoutCopyInResponse(concat(answer));
      if (passed.length > 0) options?.onRawData?.(passed);
      return;
    }
    return db.execProtocolRawStream(message, options);
  };
  const exec = async (query: string, options?: Parameters<PGlite['exec']>[1]) => {
    // The socket server's cleanup of a client gone mid-COPY: nothing reached PGlite.
    if (pending !== undefined && /^\s*ROLLBACK\s*;?\s*$/i.test(query)) {
      pending = undefined;
      if (!db.isInTransaction()) return [];
    }
    return db.exec(query, options);
  };
  const isInTransaction = () => pending !== undefined || db.isInTransaction();
  const replaced: Record<PropertyKey, unknown> = { execProtocolRawStream: execStream, exec, isInTransaction };
  return new Proxy(db, {
    get(target, property, receiver) {
      if (property in replaced) return replaced[property];
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** The SQL of a Query message: after the type byte and the length, up to the closing NUL. */
function queryText(message: Uint8Array): string {
  return Buffer.from(message.subarray(5, message.length - 1)).toString('utf8');
}

/** A CopyInResponse for text format with no per-column formats: node-postgres's copy streams read only its arrival. */
function copyInResponse(): Uint8Array {
  const message = Buffer.alloc(1 + 4 + 1 + 2);
  message.writeUInt8(COPY_IN_RESPONSE, 0);
  message.writeInt32BE(4 + 1 + 2, 1);
  return message;
}

/** PGlite's answer with its CopyInResponse taken out (the client had ours). */
function withoutCopyInResponse(answer: Uint8Array): Uint8Array {
  const kept: Uint8Array[] = [];
  let at = 0;
  while (at + 5 <= answer.length) {
    const length = Buffer.from(answer.buffer, answer.byteOffset + at + 1, 4).readInt32BE(0);
    const end = at + 1 + length;
    if (answer[at] !== COPY_IN_RESPONSE) kept.push(answer.subarray(at, end));
    at = end;
  }
  return concat(kept);
}

/** The parts in one buffer of its own: one copy, however many parts. */
function concat(parts: Uint8Array[]): Uint8Array {
  const whole = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let at = 0;
  for (const part of parts) {
    whole.set(part, at);
    at += part.length;
  }
  return whole;
}

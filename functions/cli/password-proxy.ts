import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * PGlite checks no password: its startup accepts any user and any password (pg_hba.conf is not
 * read), so a port it listens on lets every local user in as superuser. This proxy is the door
 * `serve` puts in front of it: it answers the startup itself, asks for the password
 * (AuthenticationCleartextPassword, which psql, node-postgres, JDBC and Go's drivers all speak;
 * on the loopback interface no other user can read it on the wire), compares it with the one
 * `serve` generated, and only then hands the connection, from its startup message on, to the
 * embedded database's private Unix socket.
 */
export interface PasswordProxy {
  /** `127.0.0.1:port`. */
  address: string;
  stop(): Promise<void>;
}

const SSL_REQUEST = 80_877_103;
const GSS_ENCRYPTION_REQUEST = 80_877_104;
const PROTOCOL_3 = 196_608;
/** Longer than any startup or password message a client sends; more is not a client of ours. */
const MAX_MESSAGE_BYTES = 10_000;
/** A client that has not authenticated by then is cut off. */
const AUTHENTICATION_TIMEOUT_MS = 10_000;

export async function startPasswordProxy(options: { port: number; password: string; upstream: string }): Promise<PasswordProxy> {
  const expected = digest(options.password);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    client.setTimeout(AUTHENTICATION_TIMEOUT_MS, () => client.destroy());
    void admit(client, expected, options.upstream, sockets).catch(() => client.destroy());
  });
  server.listen(options.port, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the password proxy has no TCP address');
  return {
    address: `127.0.0.1:${address.port}`,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Startup, password, then a plain relay to the embedded database; anything else closes the connection. */
async function admit(client: Socket, expected: Buffer, upstream: string, sockets: Set<Socket>): Promise<void> {
  const reader = new MessageReader(client);
  let startup: Buffer;
  for (;;) {
    startup = await reader.untyped();
    const code = startup.readInt32BE(4);
    // No TLS on the loopback interface: say so, and the client goes on in plain text.
    if (code === SSL_REQUEST || code === GSS_ENCRYPTION_REQUEST) client.write('N');
    else break;
  }
  // A cancel request would need the session's key, which only the embedded database knows: not relayed.
  if (startup.readInt32BE(4) !== PROTOCOL_3) return void client.destroy();
  const user = startupParameter(startup, 'user') ?? '';
  client.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3])); // AuthenticationCleartextPassword
  const reply = await reader.typed();
  const given = reply.type === 0x70 ? reply.body.subarray(0, Math.max(0, reply.body.indexOf(0))) : Buffer.alloc(0);
  if (!timingSafeEqual(digest(given), expected)) {
    client.end(errorResponse('28P01', `password authentication failed for user "${user}"`));
    return;
  }
  client.setTimeout(0);
  const server = createConnection(upstream);
  sockets.add(server);
  server.once('close', () => {
    sockets.delete(server);
    client.destroy();
  });
  client.once('close', () => server.destroy());
  server.on('error', () => client.destroy());
  server.write(startup);
  const rest = reader.rest();
  if (rest.length > 0) server.write(rest);
  client.pipe(server).pipe(client);
}

function digest(value: string | Buffer): Buffer {
  return createHash('sha256').update(value).digest();
}

/** The value of `name` in a startup message (length, protocol, then name\0value\0 pairs). */
function startupParameter(startup: Buffer, name: string): string | undefined {
  const fields = startup.subarray(8).toString('utf8').split('\0');
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** A FATAL ErrorResponse with SQLSTATE `code`. */
function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`, 'utf8');
  const head = Buffer.alloc(5);
  head.writeUInt8(0x45, 0);
  head.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}

/** Reads whole protocol messages off a socket before it is piped anywhere. */
class MessageReader {
  private buffer = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  private ended = false;

  constructor(private readonly socket: Socket) {
    const wake = () => {
      const resume = this.waiting;
      this.waiting = undefined;
      resume?.();
    };
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      wake();
    });
    socket.once('close', () => {
      this.ended = true;
      wake();
    });
  }

  /** A startup-phase message: int32 length (itself included), then the body. */
  async untyped(): Promise<Buffer> {
    await this.bytes(4);
    const length = this.buffer.readInt32BE(0);
    if (length < 8 || length > MAX_MESSAGE_BYTES) throw new Error('not a PostgreSQL startup message');
    await this.bytes(length);
    return this.take(length);
  }

  /** A typed message: one byte, int32 length, the body. */
  async typed(): Promise<{ type: number; body: Buffer }> {
    await this.bytes(5);
    const length = this.buffer.readInt32BE(1);
    if (length < 4 || length > MAX_MESSAGE_BYTES) throw new Error('not a PostgreSQL message');
    await this.bytes(1 + length);
    const message = this.take(1 + length);
    return { type: message[0] ?? 0, body: message.subarray(5) };
  }

  /** What arrived after the last message read; the reader stops listening. */
  rest(): Buffer {
    this.socket.removeAllListeners('data');
    return this.take(this.buffer.length);
  }

  private take(length: number): Buffer {
    const taken = this.buffer.subarray(0, length);
    this.buffer = this.buffer.subarray(length);
    return taken;
  }

  private async bytes(length: number): Promise<void> {
    while (this.buffer.length < length) {
      if (this.ended) throw new Error('the client went away');
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
  }
}

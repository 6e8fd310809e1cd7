import { once } from 'node:events';
import { type AddressInfo, createConnection, createServer, type Socket } from 'node:net';
import { afterFile } from './database';

/**
 * A TCP relay in front of the test server that can hold what its clients send: while holding,
 * the server reads nothing more from them (not even the end of the stream), so a test can act in
 * the window between a client's last message and the server acting on it. The server's side
 * flows through unheld.
 */
export interface HoldingRelay {
  /** The URL given, with the relay's host and port. */
  url: string;
  /** From now, keeps what clients send instead of forwarding it. */
  hold(): void;
  /** The first bytes a client sent since hold(). */
  held(): Promise<Buffer>;
  /** Forwards what was held, in order, and stops holding. */
  release(): void;
}

/** A relay to `url`'s host and port (closed after the test file). */
export async function holdingRelay(url: string): Promise<HoldingRelay> {
  const target = new URL(url);
  let queued: Array<() => void> | undefined;
  let firstHeld: ((bytes: Buffer) => void) | undefined;
  let heldBytes: Promise<Buffer> = Promise.resolve(Buffer.alloc(0));
  const sockets = new Set<Socket>();
  const toServer = (step: () => void) => (queued ? queued.push(step) : step());

  // Half-open: a client's end of stream is passed on (or held) like its bytes, not answered by the relay.
  const relay = createServer({ allowHalfOpen: true }, (client) => {
    const server = createConnection({ port: Number(target.port || 5432), host: target.hostname, allowHalfOpen: true });
    for (const socket of [client, server]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        server.destroy();
      });
    }
    server.on('data', (bytes) => client.write(bytes));
    server.on('end', () => client.end());
    client.on('data', (bytes: Buffer) => {
      if (queued) firstHeld?.(bytes);
      toServer(() => server.write(bytes));
    });
    client.on('end', () => toServer(() => server.end()));
  });
  relay.listen(0, '127.0.0.1');
  await once(relay, 'listening');
  afterFile(async () => {
    for (const socket of sockets) socket.destroy();
    relay.close();
  });

  const relayed = new URL(url);
  relayed.hostname = '127.0.0.1';
  relayed.port = String((relay.address() as AddressInfo).port);
  return {
    url: relayed.toString(),
    hold: () => {
      queued = [];
      heldBytes = new Promise((resolve) => {
        firstHeld = resolve;
      });
    },
    held: () => heldBytes,
    release: () => {
      const steps = queued ?? [];
      queued = undefined;
      for (const step of steps) step();
    },
  };
}

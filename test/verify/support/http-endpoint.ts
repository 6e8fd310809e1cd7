import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as a local AWS endpoint saw it. */
export interface SeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

/** The endpoint's answer. */
export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** A local HTTP endpoint that answers with `answer`, recording every request it received. */
export interface HttpEndpoint {
  url: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Starts an HTTP server on 127.0.0.1 for one AWS service. The real SDK signs, sends and parses
 * against it, pointed there by AWS_ENDPOINT_URL_<SERVICE>; an answer that throws becomes a 500.
 */
export async function startHttpEndpoint(answer: (request: SeenRequest) => Promise<Reply> | Reply): Promise<HttpEndpoint> {
  const requests: SeenRequest[] = [];
  const server = createServer(async (incoming, response) => {
    const url = new URL(incoming.url ?? '/', 'http://localhost');
    const request: SeenRequest = {
      method: incoming.method ?? 'GET',
      path: decodeURIComponent(url.pathname),
      query: url.searchParams,
      headers: incoming.headers,
      body: await readBody(incoming),
    };
    requests.push(request);
    let reply: Reply;
    try {
      reply = await answer(request);
    } catch (error) {
      reply = { status: 500, body: String((error as Error).stack ?? error) };
    }
    response.writeHead(reply.status, reply.headers ?? {});
    response.end(reply.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

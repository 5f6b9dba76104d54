/**
 * Two connected TCP sockets over 127.0.0.1 (`a` dialled, `b` accepted), for tests that need a real kernel socket
 * pair; `close()` destroys both ends and the listener.
 */
import net from 'node:net';
import { once } from 'node:events';

export async function socketPair(): Promise<{ a: net.Socket; b: net.Socket; close: () => void }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const accepted = once(server, 'connection');
  const a = net.connect({ host: '127.0.0.1', port });
  await once(a, 'connect');
  const [b] = (await accepted) as [net.Socket];
  return { a, b, close: () => { a.destroy(); b.destroy(); server.close(); } };
}

/**
 * The TCP transport (BEP 3): `Transport` over node:net. Accepted sockets arrive paused (`pauseOnConnect`); a dial
 * resolves on 'connect'. See transport.ts for the contract.
 *
 * Invariant: every socket made here has an error listener from its first moment (an 'error' with no listener would
 * throw out of the event loop); the owner of the moment learns of the failure through its own listeners or 'close'.
 */
import net from 'node:net';
import { BtError } from '../util/errors.js';
import { formatPeerAddress } from '../util/peer-address.js';
import type { DialOptions, PeerStream, Transport, TransportListener } from './transport.js';

const ignore = (): void => undefined;

export class TcpTransport implements Transport {
  async listen(host: string, port: number, onConnection: (stream: PeerStream) => void,
    onError?: (err: Error) => void): Promise<TransportListener> {
    const server = net.createServer({ pauseOnConnect: true }, (socket) => {
      socket.on('error', ignore);
      onConnection(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') reject(new BtError('PORT_IN_USE', `port ${port} is already in use on ${host}`));
        else if (err.code === 'EACCES') reject(new BtError('PORT_IN_USE', `no permission to listen on port ${port}`));
        else reject(new BtError('IO', `cannot listen on ${formatPeerAddress(host, port)}: ${err.message}`));
      });
      server.listen(port, host, () => resolve());
    });
    server.on('error', (err) => onError?.(err));
    const addr = server.address();
    return {
      port: addr && typeof addr === 'object' ? addr.port : 0,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  connect(host: string, port: number, opts: DialOptions): Promise<PeerStream> {
    return new Promise<PeerStream>((resolve, reject) => {
      if (opts.signal?.aborted) { reject(new BtError('ABORTED', 'connect aborted')); return; }
      const socket = net.connect({ host, port });
      socket.on('error', ignore);
      let settled = false;
      const settle = (err: Error | null): void => {
        if (settled) return;
        settled = true;
        opts.signal?.removeEventListener('abort', onAbort);
        socket.off('error', onError);
        socket.off('timeout', onTimeout);
        socket.setTimeout(0);
        if (err) { socket.destroy(); reject(err); } else resolve(socket);
      };
      const onAbort = (): void => settle(new BtError('ABORTED', 'connect aborted'));
      const onError = (err: Error): void => settle(err);
      const onTimeout = (): void => settle(new BtError('TIMEOUT', 'connect timeout'));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      socket.setTimeout(opts.timeoutMs);
      socket.once('timeout', onTimeout);
      socket.once('error', onError);
      socket.once('connect', () => settle(null));
    });
  }
}

/** The default transport of a session. */
export const tcpTransport: Transport = new TcpTransport();

/** Ports that nothing listens on right now, for servers a test starts as a child process. */
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

/**
 * Asks the kernel for an ephemeral port and releases it at once. Another process could take
 * it before the caller binds it; ephemeral ports are handed out round-robin, so that is rare.
 * Use port 0 directly wherever the server can report the port it got.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const addr = server.address();
      if (addr === null || typeof addr === 'string') {
        server.close();
        reject(new Error(`no TCP port from the kernel on ${host}`));
        return;
      }
      server.close(() => resolve(addr.port));
    });
  });
}

/** The same for UDP: for CoAP servers a test starts as a child process (libcoap's tools, npm start). */
export function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    socket.once('error', reject);
    socket.bind(0, host, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

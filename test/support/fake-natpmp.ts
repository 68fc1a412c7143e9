/**
 * A NAT-PMP router on loopback (RFC 6886 wire format) that grants every request as asked and
 * records the requests: for node tests that need a router answering at once. The real router
 * (miniupnpd in network namespaces) is in test/interop.
 */
import { createSocket, type Socket } from 'node:dgram';

export async function fakeNatPmp(): Promise<{ port: number; requests: Buffer[]; close(): void }> {
  const socket: Socket = createSocket('udp4');
  const requests: Buffer[] = [];
  socket.on('message', (msg, r) => {
    requests.push(msg);
    const op = msg[1]!;
    const out = Buffer.alloc(op === 0 ? 12 : 16);
    out[1] = 128 + op;
    out.writeUInt32BE(100, 4);
    if (op === 0) Buffer.from([203, 0, 113, 7]).copy(out, 8);
    else {
      out.writeUInt16BE(msg.readUInt16BE(4), 8);
      out.writeUInt16BE(msg.readUInt16BE(6), 10);
      out.writeUInt32BE(msg.readUInt32BE(8), 12);
    }
    socket.send(out, r.port, r.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return { port: socket.address().port, requests, close: () => socket.close() };
}

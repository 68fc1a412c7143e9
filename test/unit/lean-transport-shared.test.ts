/**
 * LeanTransport on a socket it is given (cloud-link sends from the gateway's endpoint socket):
 * it answers nothing that is not its own, fails its open requests on close, and leaves the
 * socket open and working for its owner.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { generate, parse } from 'coap-packet';
import { LeanTransport } from '../../lib/coap/lean-transport';

async function bound(): Promise<Socket> {
  const sock = createSocket('udp4');
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  return sock;
}

test('a ping on a shared socket is done on the Reset; close fails what is open and leaves the socket working', async () => {
  const shared = await bound();
  const peer = await bound();
  const peerPort = peer.address().port;
  const seenByOwner: Buffer[] = [];
  shared.on('message', (msg) => seenByOwner.push(msg));
  // The peer answers a ping with a Reset and leaves every request unanswered.
  const requests: number[] = [];
  peer.on('message', (msg, rinfo) => {
    const packet = parse(msg);
    if (packet.code === '0.00') peer.send(generate({ code: '0.00', reset: true, messageId: packet.messageId }), rinfo.port, rinfo.address);
    else requests.push(packet.messageId);
  });
  const lean = LeanTransport.over(shared);
  try {
    const pinged = await new Promise<Error | undefined>((resolve, reject) => lean.ping('127.0.0.1', peerPort, 2000, resolve, () => reject(new Error('ping timed out'))));
    assert.equal(pinged, undefined);

    // A response nobody asked for reaches the owner's listener and gets no Reset from the transport.
    peer.send(generate({ code: '2.05', confirmable: true, messageId: 77, token: Buffer.from([1, 2]), payload: Buffer.from('?') }), shared.address().port, '127.0.0.1');
    const stray = once(peer, 'message').then(() => 'answered');
    const quiet = new Promise((r) => setTimeout(() => r('quiet'), 200));
    assert.equal(await Promise.race([stray, quiet]), 'quiet');
    assert.equal(seenByOwner.length, 2, 'the owner saw the Reset and the stray response too');

    const open = new Promise<Error | undefined>((resolve) => lean.request('127.0.0.1', peerPort, 'GET', { 'Uri-Path': [Buffer.from('x')] }, Buffer.alloc(0), 5000, resolve, () => resolve(new Error('timed out'))));
    while (requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    await lean.close(new Error('transport closed'));
    assert.equal((await open)?.message, 'transport closed');

    // The socket is still its owner's: it sends and receives.
    peer.send(Buffer.from([0x50, 0x00, 0x00, 0x01]), shared.address().port, '127.0.0.1');
    while (seenByOwner.length < 3) await new Promise((r) => setTimeout(r, 10));
    await new Promise<void>((resolve, reject) => shared.send(Buffer.from([0x50, 0, 0, 2]), peerPort, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  } finally {
    shared.close();
    peer.close();
  }
});

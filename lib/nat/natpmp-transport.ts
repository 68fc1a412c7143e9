/**
 * Sends one NAT-PMP request and waits for its answer with RFC 6886's schedule (section 3.1):
 * first wait 250 ms, double after every try, give up after 9 tries (about 128 s in all).
 */
import { createSocket, type Socket } from 'node:dgram';
import { NatError } from './errors';

export interface RetransmitSchedule {
  /** Wait after the first send; RFC 6886 says 250 ms. */
  initialTimeoutMs: number;
  /** Sends before giving up; RFC 6886 says 9. */
  maxTries: number;
}

export const RFC6886_SCHEDULE: RetransmitSchedule = { initialTimeoutMs: 250, maxTries: 9 };

/** How long to wait for an answer after the send numbered `tries` (0 for the first send). */
export function waitAfterSend(schedule: RetransmitSchedule, tries: number): number {
  return schedule.initialTimeoutMs * 2 ** tries;
}

export interface Exchange<T> {
  gateway: string;
  port: number;
  request: Buffer;
  /** Returns the decoded answer, or undefined for a datagram that is not the answer. */
  accept: (datagram: Buffer) => T | undefined;
  schedule: RetransmitSchedule;
  /** Lets close() abort a wait that could otherwise last two minutes. */
  signal?: AbortSignal;
}

export function exchange<T>(x: Exchange<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const socket: Socket = createSocket('udp4');
    let tries = 0;
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    const finish = (err: Error | undefined, value?: T): void => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      x.signal?.removeEventListener('abort', onAbort);
      try {
        socket.close();
      } catch {
        // already closed
      }
      if (err) reject(err);
      else resolve(value as T);
    };
    const onAbort = (): void => finish(new NatError('unreachable', 'NAT-PMP request cancelled'));
    if (x.signal?.aborted) return onAbort();
    x.signal?.addEventListener('abort', onAbort);

    const send = (): void => {
      if (finished) return;
      if (tries >= x.schedule.maxTries) {
        finish(new NatError('unreachable', `no NAT-PMP answer from ${x.gateway}:${x.port} after ${tries} tries`));
        return;
      }
      const wait = waitAfterSend(x.schedule, tries);
      tries += 1;
      socket.send(x.request, (err) => {
        if (err) finish(new NatError('unreachable', `cannot send to ${x.gateway}:${x.port}: ${err.message}`, { cause: err }));
      });
      timer = setTimeout(send, wait);
    };

    socket.on('message', (msg, rinfo) => {
      // Only the router's own answer counts (section 3.1: check the source).
      if (rinfo.address !== x.gateway || rinfo.port !== x.port) return;
      const value = x.accept(msg);
      if (value !== undefined) finish(undefined, value);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A connected socket reports ICMP port-unreachable: nothing listens there, no point retrying.
      if (err.code === 'ECONNREFUSED') finish(new NatError('unsupported', `${x.gateway} does not answer NAT-PMP (port ${x.port} closed)`, { cause: err }));
      else finish(new NatError('unreachable', `NAT-PMP socket error: ${err.message}`, { cause: err }));
    });
    // Connecting filters foreign senders in the kernel and makes ICMP errors visible.
    socket.connect(x.port, x.gateway, send);
  });
}

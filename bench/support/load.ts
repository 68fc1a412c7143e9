/**
 * Closed-loop CoAP load generator for benchmarks: `count` confirmable requests from one UDP socket
 * on loopback, at most `concurrency` in flight, the next one sent as soon as one is answered.
 *
 * It speaks raw datagrams (coap-packet) rather than going through node-coap's Agent because it
 * shares the process and the cores with the server under test: its own cost should stay small
 * and identical in every scenario, so that ratios between scenarios mean something.
 */
import { createSocket, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { generate, parse, type CoapMethod, type Option, type ParsedPacket } from 'coap-packet';

export interface RequestSpec {
  method: CoapMethod;
  /** Uri-Path as a string, e.g. "/hello"; empty segments are dropped. */
  path: string;
  /** Further options (Uri-Query, Proxy-Uri, ...); the encoder puts them in option-number order. */
  options?: Option[];
  payload?: Buffer;
}

export interface Reply {
  code: string;
  payload: Buffer;
  options: ParsedPacket['options'];
  /** True when the server sent an empty ACK first and the answer later (RFC 7252 §5.2.2). */
  separate: boolean;
}

export interface LoadOptions {
  port: number;
  /** Loopback unless a benchmark says otherwise. */
  host?: string;
  /** The same request every time, or one built per request index. */
  request: RequestSpec | ((index: number) => RequestSpec);
  /** Measured requests. */
  count: number;
  /** Requests sent first and not measured: JIT, caches and socket buffers settle. */
  warmup: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Warm-up and measurement together stop after this long, whatever is left undone. */
  timeLimitMs: number;
  /** Returns why the reply is wrong, or undefined when it is right. */
  check(reply: Reply): string | undefined;
}

export interface LoadResult {
  /** Measured requests that got an answer (right or wrong). */
  completed: number;
  /** Measured requests asked for. */
  requested: number;
  /** Replies of any kind, warm-up included: tells a slow server from one that never answers. */
  answered: number;
  /** First measured send to last measured answer. */
  elapsedMs: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** Every measured latency, ascending, for callers that pool several runs. */
  latenciesMs: number[];
  /** Wrong answers, resets and requests never answered, warm-up included. */
  failures: number;
  /** The first few failure descriptions, for the report. */
  failureSamples: string[];
  retransmissions: number;
  /** Answers that arrived for a request already settled (duplicates after a retransmission). */
  strayAnswers: number;
  /** The time limit stopped the run; `abandoned` requests were in flight then. */
  aborted: boolean;
  abandoned: number;
}

// RFC 7252 §4.8 transmission parameters: a lost datagram is retransmitted like a real client would.
const ACK_TIMEOUT_MS = 2000;
const ACK_RANDOM_FACTOR = 1.5;
const MAX_RETRANSMIT = 4;
const SWEEP_INTERVAL_MS = 100;
const MAX_FAILURE_SAMPLES = 5;

interface Pending {
  messageId: number;
  token: number;
  datagram: Buffer;
  firstSentAt: number;
  nextTimeoutAt: number;
  timeoutMs: number;
  transmissions: number;
  /** An empty ACK arrived: the server has it, stop retransmitting and wait for the answer. */
  acked: boolean;
  measured: boolean;
}

interface Phase {
  toSend: number;
  sent: number;
  settled: number;
  measured: boolean;
  latencies: number[];
  startedAt: number;
  lastAnsweredAt: number;
  done: (aborted: boolean) => void;
}

/** Nearest-rank percentile of ascending `sorted`; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const host = options.host ?? '127.0.0.1';
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const client = new LoadClient(socket, host, options);
  try {
    return await client.run();
  } finally {
    client.stop();
    socket.close();
  }
}

class LoadClient {
  private readonly byMessageId = new Map<number, Pending>();
  private readonly byToken = new Map<number, Pending>();
  // Random start so a server's deduplication cache never mistakes a new run for retransmissions.
  private nextMessageId = Math.floor(Math.random() * 0x10000);
  private nextToken = Math.floor(Math.random() * 0x1_0000_0000);
  private requestIndex = 0;
  private phase: Phase | undefined;
  private failures = 0;
  private readonly failureSamples: string[] = [];
  private retransmissions = 0;
  private strayAnswers = 0;
  private answered = 0;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly socket: Socket,
    private readonly host: string,
    private readonly options: LoadOptions,
  ) {
    socket.on('message', (datagram) => this.onDatagram(datagram));
    socket.on('error', (err) => this.fail(`client socket: ${err.message}`));
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
  }

  async run(): Promise<LoadResult> {
    const deadline = performance.now() + this.options.timeLimitMs;
    const warm = await this.runPhase(this.options.warmup, false, deadline);
    const measured = warm.aborted
      ? { aborted: true, phase: undefined }
      : await this.runPhase(this.options.count, true, deadline);
    const latencies = measured.phase?.latencies ?? [];
    const elapsedMs = measured.phase ? measured.phase.lastAnsweredAt - measured.phase.startedAt : 0;
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      completed: latencies.length,
      requested: this.options.count,
      answered: this.answered,
      elapsedMs,
      requestsPerSecond: elapsedMs > 0 ? (latencies.length * 1000) / elapsedMs : 0,
      latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? Number.NaN },
      latenciesMs: sorted,
      failures: this.failures,
      failureSamples: this.failureSamples,
      retransmissions: this.retransmissions,
      strayAnswers: this.strayAnswers,
      aborted: measured.aborted,
      abandoned: measured.aborted ? this.byToken.size : 0,
    };
  }

  stop(): void {
    clearInterval(this.sweeper);
    this.byMessageId.clear();
    this.byToken.clear();
  }

  private runPhase(toSend: number, measured: boolean, deadline: number): Promise<{ aborted: boolean; phase: Phase }> {
    return new Promise((resolve) => {
      const remainingMs = deadline - performance.now();
      let timer: NodeJS.Timeout | undefined;
      const phase: Phase = {
        toSend,
        sent: 0,
        settled: 0,
        measured,
        latencies: [],
        startedAt: performance.now(),
        lastAnsweredAt: performance.now(),
        done: (aborted) => {
          clearTimeout(timer);
          this.phase = undefined;
          resolve({ aborted, phase });
        },
      };
      if (toSend <= 0) return phase.done(false);
      if (remainingMs <= 0) return phase.done(true);
      this.phase = phase;
      timer = setTimeout(() => phase.done(true), remainingMs);
      while (phase.sent < Math.min(toSend, this.options.concurrency)) this.sendNext(phase);
    });
  }

  private sendNext(phase: Phase): void {
    phase.sent++;
    const spec = typeof this.options.request === 'function' ? this.options.request(this.requestIndex) : this.options.request;
    this.requestIndex++;
    const messageId = this.nextMessageId;
    this.nextMessageId = (this.nextMessageId + 1) & 0xffff;
    const token = this.nextToken;
    this.nextToken = (this.nextToken + 1) >>> 0;
    const tokenBytes = Buffer.alloc(4);
    tokenBytes.writeUInt32BE(token);
    const uriPath: Option[] = spec.path
      .split('/')
      .filter((s) => s !== '')
      .map((s) => ({ name: 'Uri-Path', value: Buffer.from(s) }));
    const datagram = generate({
      code: spec.method,
      confirmable: true,
      messageId,
      token: tokenBytes,
      options: [...uriPath, ...(spec.options ?? [])],
      payload: spec.payload ?? Buffer.alloc(0),
    });
    const now = performance.now();
    const timeoutMs = ACK_TIMEOUT_MS * (1 + Math.random() * (ACK_RANDOM_FACTOR - 1));
    const pending: Pending = {
      messageId,
      token,
      datagram,
      firstSentAt: now,
      nextTimeoutAt: now + timeoutMs,
      timeoutMs,
      transmissions: 1,
      acked: false,
      measured: phase.measured,
    };
    this.byMessageId.set(messageId, pending);
    this.byToken.set(token, pending);
    this.transmit(pending);
  }

  private transmit(pending: Pending): void {
    this.socket.send(pending.datagram, this.options.port, this.host, (err) => {
      if (err && this.byToken.get(pending.token) === pending) this.settle(pending, `send failed: ${err.message}`);
    });
  }

  private onDatagram(datagram: Buffer): void {
    let packet: ParsedPacket;
    try {
      packet = parse(datagram);
    } catch (err) {
      this.fail(`unparseable datagram from the server: ${(err as Error).message}`);
      return;
    }
    if (packet.reset) {
      const pending = this.byMessageId.get(packet.messageId);
      if (pending) this.settle(pending, 'server answered with RST');
      else this.strayAnswers++;
      return;
    }
    if (packet.ack && packet.code === '0.00') {
      const pending = this.byMessageId.get(packet.messageId);
      if (pending) pending.acked = true;
      return;
    }
    if (packet.ack) {
      const pending = this.byMessageId.get(packet.messageId);
      if (!pending) {
        this.strayAnswers++;
        return;
      }
      if (tokenOf(packet.token) !== pending.token) {
        this.settle(pending, `piggybacked ${packet.code} carries the wrong token`);
        return;
      }
      this.settle(pending, undefined, { code: packet.code, payload: packet.payload, options: packet.options, separate: false });
      return;
    }
    // A separate response: acknowledge every confirmable copy, or the server keeps resending it.
    if (packet.confirmable) {
      this.socket.send(generate({ code: '0.00', ack: true, messageId: packet.messageId, token: Buffer.alloc(0) }), this.options.port, this.host);
    }
    const token = tokenOf(packet.token);
    const pending = token === undefined ? undefined : this.byToken.get(token);
    if (!pending) {
      this.strayAnswers++;
      return;
    }
    this.settle(pending, undefined, { code: packet.code, payload: packet.payload, options: packet.options, separate: true });
  }

  /** Ends one request: records its latency (measured phase) or failure, then sends the next. */
  private settle(pending: Pending, error: string | undefined, reply?: Reply): void {
    const now = performance.now();
    this.byMessageId.delete(pending.messageId);
    this.byToken.delete(pending.token);
    if (reply) this.answered++;
    const wrong = error ?? (reply ? this.options.check(reply) : 'no reply');
    if (wrong !== undefined) this.fail(wrong);
    const phase = this.phase;
    // A straggler from the warm-up that lands during measurement is counted in neither.
    if (!phase || pending.measured !== phase.measured) return;
    phase.settled++;
    if (reply && phase.measured) {
      phase.latencies.push(now - pending.firstSentAt);
      phase.lastAnsweredAt = now;
    }
    if (phase.sent < phase.toSend) this.sendNext(phase);
    else if (phase.settled >= phase.toSend) phase.done(false);
  }

  /** Retransmits unacknowledged requests with RFC 7252 back-off; gives up after MAX_RETRANSMIT. */
  private sweep(): void {
    const now = performance.now();
    for (const pending of [...this.byToken.values()]) {
      if (pending.acked || now < pending.nextTimeoutAt) continue;
      if (pending.transmissions > MAX_RETRANSMIT) {
        this.settle(pending, `no answer after ${pending.transmissions} transmissions`);
        continue;
      }
      pending.transmissions++;
      pending.timeoutMs *= 2;
      pending.nextTimeoutAt = now + pending.timeoutMs;
      this.retransmissions++;
      this.transmit(pending);
    }
  }

  private fail(description: string): void {
    this.failures++;
    if (this.failureSamples.length < MAX_FAILURE_SAMPLES) this.failureSamples.push(description);
  }
}

function tokenOf(token: Buffer): number | undefined {
  return token.length === 4 ? token.readUInt32BE(0) : undefined;
}

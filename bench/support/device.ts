/**
 * The bench's device in a process of its own: GET /hello → 2.05 "hello". Prints "PORT <n>" once
 * it listens; exits when its parent closes stdin (or dies), so it never outlives the bench.
 */
import { built } from './built';

const { CoapEndpoint } = built<typeof import('../../lib/coap/endpoint')>('lib/coap/endpoint.js');

const device = new CoapEndpoint({ address: '127.0.0.1', port: 0, maxPendingRequests: 10_000 });
device.route('GET', '/hello', (ex) => ex.respond({ code: '2.05', payload: Buffer.from('hello'), contentFormat: 0 }));
device.start().then(
  ({ port }) => {
    process.stdout.write(`PORT ${port}\n`);
    process.stdin.resume();
    process.stdin.on('end', () => void device.stop().finally(() => process.exit(0)));
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

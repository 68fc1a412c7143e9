/**
 * Child process for the registry kill -9 test: claims devices, records their notices and changes
 * their sharing choices one after another, and reports each change on stdout only once its
 * promise resolved (acknowledged). The parent kills it with SIGKILL at a random moment.
 */
import { DeviceRegistry } from '../../lib/provisioning/registry';
import { Provisioner } from '../../lib/provisioning/provisioner';

const [file] = process.argv.slice(2);
const provisioner = new Provisioner(new DeviceRegistry(file), { noticeQuietSeconds: 0, maxNoticesPerMinute: 1_000_000 });
process.stdout.write(`start ${provisioner.claims().length}\n`);
let i = provisioner.claims().length;
const next = async (): Promise<void> => {
  // Several changes in flight at once, as on a busy gateway: they share writes.
  const batch = [i, i + 1, i + 2].map(async (n) => {
    await provisioner.claim(`dev-${n}`, 'csv', `device ${n}`);
    await provisioner.report('unclaimed', `stray-${n}`, `stray ${n}`);
    return n;
  });
  i += 3;
  const done = await Promise.all(batch);
  process.stdout.write(`${done.map((n) => `ack ${n}`).join('\n')}\n`, () => setImmediate(() => void next()));
};
void next();

/**
 * Child process for the kill -9 test: takes sequence numbers from a FileSequenceStorage as
 * fast as it can and reports each one on stdout once it has been handed out (i.e. could have
 * been used in a nonce). The parent kills it with SIGKILL at some point.
 */
import { FileSequenceStorage, SenderSequence } from '../../lib/oscore';

const [path, reserve] = process.argv.slice(2);
const sequence = new SenderSequence(new FileSequenceStorage(path), Number(reserve));
process.stdout.write(`start ${sequence.peek()}\n`);
const report = (): void => {
  const lines: string[] = [];
  for (let i = 0; i < 50; i++) lines.push(`used ${sequence.take()}`);
  // Reported only after take() returned: each reported number was really handed out.
  process.stdout.write(`${lines.join('\n')}\n`, () => setImmediate(report));
};
report();

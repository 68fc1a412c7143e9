/** Waiting on a CloudLink's events in tests. */
import type { CloudLink, CloudLinkState } from '../../lib/coap/cloud-link/cloud-link';

/** The next `event` whose state satisfies `match` (any, by default). */
export function nextState(cl: CloudLink, event: 'change' | 'refreshed', match: (s: CloudLinkState) => boolean = () => true): Promise<CloudLinkState> {
  return new Promise((resolve) => {
    const on = (s: CloudLinkState): void => {
      if (!match(s)) return;
      cl.off(event, on);
      resolve(s);
    };
    cl.on(event, on);
  });
}

/** Lets the embedded broker and the provisioner work together: revocation checks and notices. */
import type { BrokerRefusal, GatewayBroker } from './gateway-broker';
import type { Provisioner } from '../provisioner';

/** Returns a function that undoes the wiring. */
export function wireBrokerToProvisioner(broker: GatewayBroker, provisioner: Provisioner, log?: (text: string) => void): () => void {
  broker.isRevoked = (id) => provisioner.isRevoked(id);
  const onRefused = (r: BrokerRefusal): void => {
    if (r.kind === 'acl' || r.kind === 'limit' || r.kind === 'untrusted') {
      log?.(r.reason);
      if (r.kind !== 'untrusted') return;
      // A certificate from another CA: the device does not match, tell the owner as a mismatch.
      void provisioner.report('identity-mismatch', r.identity, r.reason, r.detail);
      return;
    }
    void provisioner.report(r.kind, r.identity, r.reason, r.detail);
  };
  broker.on('refused', onRefused);
  return () => {
    broker.off('refused', onRefused);
    broker.isRevoked = () => false;
  };
}

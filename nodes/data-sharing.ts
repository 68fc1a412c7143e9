/**
 * Sits on the data path and lets through only what the owner allowed: outputs vendor, third
 * party, commands to the device, notices. Choices are read live from device-provisioning.
 */
import type { NodeAPI, Node, NodeDef, NodeMessage, NodeStatus } from 'node-red';
import { DataSharing, DEFAULT_MAX_WINDOWS, type OutMessage, type Route } from '../lib/sharing/data-sharing';
import { realTimers } from '../lib/sharing/timers';
import { parseNameList } from '../lib/sharing/names';
import { integerSetting, SettingError, settingsOrRefuse } from './settings';
import { provisioningService } from './dashboard/services';
import type { ProvisioningService } from '../lib/provisioning/types';

interface DataSharingDef extends NodeDef {
  provisioning: string;
  thirdParties: string;
  maxWindows: string | number;
}

const OUTPUT: Record<Route, number> = { vendor: 0, thirdParty: 1, device: 2, notice: 3 };
export = function register(RED: NodeAPI): void {
  function DataSharingNode(this: Node, config: DataSharingDef): void {
    RED.nodes.createNode(this, config);
    const settings = settingsOrRefuse(this, 'data-sharing', () => ({
      thirdParties: parseNameList(config.thirdParties ?? '', (reason) => new SettingError(reason)),
      maxWindows: integerSetting('Summary windows', config.maxWindows, DEFAULT_MAX_WINDOWS, 1, 1_000_000),
    }));
    if (!settings) return;
    const { thirdParties, maxWindows } = settings;

    const findService = (): ProvisioningService | undefined => provisioningService(RED, config.provisioning || undefined);
    let service: ProvisioningService | undefined;
    const counts = { vendor: 0, thirdParty: 0, refused: 0 };
    let sendNow: (msgs: Array<NodeMessage | null>) => void = (msgs) => this.send(msgs);
    const showCounts = (): void => {
      const text = `vendor ${counts.vendor} · ${thirdParties.length ? `third party ${counts.thirdParty}` : 'no third party'}${counts.refused ? ` · ${counts.refused} commands refused` : ''}`;
      this.status({ fill: 'green', shape: 'dot', text });
    };

    const sharing = new DataSharing({
      // Found once per input message (flows are redeployed under us), and afresh when a window closes.
      choicesOf: (id) => (service ?? findService())?.device(id)?.sharing,
      thirdParties,
      maxWindows,
      timers: realTimers,
      clone: (msg) => RED.util.cloneMessage(msg as NodeMessage) as OutMessage,
      deliver: (route, msg) => {
        if (route === 'vendor') counts.vendor++;
        if (route === 'thirdParty') counts.thirdParty++;
        if (route === 'notice' && msg.topic === 'sharing/vendor-command-refused') counts.refused++;
        const out: Array<NodeMessage | null> = [null, null, null, null];
        out[OUTPUT[route]] = msg as NodeMessage;
        sendNow(out);
        if (service === undefined && route !== 'notice') showCounts(); // a summary window closed
      },
    });

    let warnedNoService = false;
    const initial: NodeStatus = { fill: 'grey', shape: 'ring', text: 'waiting for device data' };
    this.status(initial);

    this.on('input', (msg: NodeMessage, send: (msgs: Array<NodeMessage | null>) => void, done: (err?: Error) => void) => {
      service = findService();
      if (!service) {
        // Without the registry there are no choices: nothing passes (the default), and the owner is told once.
        this.status({ fill: 'yellow', shape: 'ring', text: 'no device-provisioning node: nothing shared' });
        if (!warnedNoService) this.warn('no device-provisioning node found: every device gets the default choices (nothing shared, no vendor commands)');
        warnedNoService = true;
      }
      sendNow = send;
      let outcome;
      try {
        outcome = sharing.handle(msg as unknown as OutMessage);
      } finally {
        sendNow = (msgs) => this.send(msgs);
        const found = service;
        service = undefined;
        if (found) showCounts();
      }
      if (outcome.kind === 'no-device') return done(new Error('no device: set msg.deviceId or use a devices/<id>/... topic'));
      done();
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      sharing.stop();
      done();
    });
  }
  RED.nodes.registerType('data-sharing', DataSharingNode);
};

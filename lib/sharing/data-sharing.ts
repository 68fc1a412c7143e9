/**
 * The owner's choices enforced on the data path: for each message from a device, what goes to
 * the vendor and to each named third party (raw, a summary per window, or nothing), and whether
 * a command from the vendor reaches the device. Choices are read per message, so a change on
 * the dashboard applies to the very next one.
 */
import { DEFAULT_SHARING, type ShareLevel, type SharingChoices } from './choices';
import { deviceIdOf, isVendorCommand } from './device-message';
import { levelFor, recipientName, sameLevel, type Recipient } from './policy';
import type { Timers } from './timers';
import { WindowAggregator, type ClosedWindow } from './window-aggregator';

export type Route = 'vendor' | 'thirdParty' | 'device' | 'notice';

export type OutMessage = Record<string, unknown>;

export type SharingNoticeKind = 'vendor-command-refused' | 'window-limit';

export interface SharingNotice {
  readonly kind: SharingNoticeKind;
  readonly deviceId: string;
  readonly at: string; // ISO 8601
  readonly reason: string;
}

export const DEFAULT_MAX_WINDOWS = 1000;
export const DEFAULT_MAX_FIELDS = 64;

export interface DataSharingOptions {
  /** The device's current choices; undefined (unknown device) means nothing passes. */
  choicesOf(deviceId: string): SharingChoices | undefined;
  /** Third parties this part of the flow serves, e.g. ["utility"]. */
  thirdParties: readonly string[];
  deliver(route: Route, msg: OutMessage): void;
  /** A deep copy of an input message, one per recipient (Node-RED's cloneMessage). */
  clone(msg: OutMessage): OutMessage;
  timers: Timers;
  /** Summary windows open at once (device × recipient × topic), default 1000. */
  maxWindows?: number;
  maxFields?: number;
}

export type Outcome =
  | { readonly kind: 'no-device' }
  | { readonly kind: 'command'; readonly deviceId: string; readonly allowed: boolean }
  | { readonly kind: 'data'; readonly deviceId: string; readonly raw: number; readonly summarised: number; readonly refused: number };

interface WindowMeta {
  deviceId: string;
  recipient: Recipient;
  level: ShareLevel;
  topic: unknown;
}

export class DataSharing {
  private readonly recipients: Recipient[];
  private readonly windows: WindowAggregator<WindowMeta>;
  /** Set while the window limit refuses readings: one notice per episode, not one per reading. */
  private full = false;

  constructor(private readonly options: DataSharingOptions) {
    this.recipients = [{ kind: 'vendor' }, ...options.thirdParties.map((name): Recipient => ({ kind: 'third-party', name }))];
    this.windows = new WindowAggregator<WindowMeta>({
      timers: options.timers,
      maxSeries: options.maxWindows ?? DEFAULT_MAX_WINDOWS,
      maxFields: options.maxFields ?? DEFAULT_MAX_FIELDS,
      onClose: (meta, window) => this.windowClosed(meta, window),
    });
  }

  get openWindows(): number {
    return this.windows.size;
  }

  private choices(deviceId: string): SharingChoices {
    return this.options.choicesOf(deviceId) ?? DEFAULT_SHARING;
  }

  handle(msg: OutMessage): Outcome {
    const deviceId = deviceIdOf(msg);
    if (deviceId === undefined) return { kind: 'no-device' };
    const choices = this.choices(deviceId);

    if (isVendorCommand(msg)) {
      if (choices.vendorCommands) {
        this.options.deliver('device', { ...this.options.clone(msg), deviceId });
        return { kind: 'command', deviceId, allowed: true };
      }
      this.notice('vendor-command-refused', deviceId, 'the owner does not allow commands from the vendor for this device');
      return { kind: 'command', deviceId, allowed: false };
    }

    let raw = 0;
    let summarised = 0;
    let refused = 0;
    for (const recipient of this.recipients) {
      const level = levelFor(choices, recipient);
      const route: Route = recipient.kind === 'vendor' ? 'vendor' : 'thirdParty';
      if (level.mode === 'raw') {
        this.options.deliver(route, { ...this.options.clone(msg), deviceId, recipient: recipientName(recipient) });
        raw++;
      } else if (level.mode === 'summary') {
        const key = `${deviceId}\u0000${recipientName(recipient)}\u0000${String(msg.topic ?? '')}`;
        const meta: WindowMeta = { deviceId, recipient, level, topic: msg.topic };
        if (this.windows.add(key, level.windowMinutes, meta, msg.payload)) summarised++;
        else {
          refused++;
          if (!this.full) this.notice('window-limit', deviceId, `summary window limit reached: readings for ${recipientName(recipient)} are not summarised until windows close`);
          this.full = true;
        }
      }
    }
    return { kind: 'data', deviceId, raw, summarised, refused };
  }

  private windowClosed(meta: WindowMeta, window: ClosedWindow): void {
    this.full = false;
    // The owner may have changed their mind while the window was open.
    if (!sameLevel(levelFor(this.choices(meta.deviceId), meta.recipient), meta.level)) return;
    const msg: OutMessage = {
      topic: meta.topic,
      deviceId: meta.deviceId,
      recipient: recipientName(meta.recipient),
      payload: window.payload,
      window: {
        minutes: window.minutes,
        count: window.count,
        from: new Date(window.from).toISOString(),
        to: new Date(window.to).toISOString(),
      },
    };
    this.options.deliver(meta.recipient.kind === 'vendor' ? 'vendor' : 'thirdParty', msg);
  }

  private notice(kind: SharingNoticeKind, deviceId: string, reason: string): void {
    const notice: SharingNotice = { kind, deviceId, at: new Date(this.options.timers.now()).toISOString(), reason };
    this.options.deliver('notice', { topic: `sharing/${kind}`, deviceId, payload: notice });
  }

  /** Open windows are dropped unsent. */
  stop(): void {
    this.windows.stop();
  }
}

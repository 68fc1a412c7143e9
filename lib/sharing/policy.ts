/** What each recipient of a device's data may get, from the owner's choices. */
import type { ShareLevel, SharingChoices } from './choices';

export type Recipient = { readonly kind: 'vendor' } | { readonly kind: 'third-party'; readonly name: string };

const NONE: ShareLevel = Object.freeze({ mode: 'none' as const });

export function recipientName(recipient: Recipient): string {
  return recipient.kind === 'vendor' ? 'vendor' : recipient.name;
}

/** A third party the owner never named gets nothing. */
export function levelFor(choices: SharingChoices, recipient: Recipient): ShareLevel {
  if (recipient.kind === 'vendor') return choices.vendor;
  return Object.hasOwn(choices.thirdParties, recipient.name) ? (choices.thirdParties[recipient.name] ?? NONE) : NONE;
}

/** Same mode and, for summaries, same window: a pending window may only be sent at the level it was collected for. */
export function sameLevel(a: ShareLevel, b: ShareLevel): boolean {
  if (a.mode !== b.mode) return false;
  return a.mode !== 'summary' || (b.mode === 'summary' && a.windowMinutes === b.windowMinutes);
}

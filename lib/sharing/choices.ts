/**
 * The owner's per-device choices about where a device's data goes and who may command it.
 * Chosen on the dashboard, stored in the device registry, enforced by the data-sharing node
 * and read by the load-control node. Contract shared by provisioning, sharing and loadcontrol.
 */

/** How much of a device's data one recipient gets. */
export type ShareLevel =
  | { readonly mode: 'none' }
  | { readonly mode: 'raw' }
  /** Numeric readings averaged (others: latest value) over a window, one message per window. */
  | { readonly mode: 'summary'; readonly windowMinutes: number };

/** Limits the owner sets for utility load control, by quantity (e.g. brightness %, °C). */
export interface LoadControlLimits {
  /** Never command below this (e.g. minimum brightness 30). */
  readonly min?: number;
  /** Never command above this (e.g. maximum thermostat setpoint). */
  readonly max?: number;
}

export interface LoadControlChoice {
  readonly optIn: boolean;
  /** Per quantity the device accepts, e.g. { brightness: { min: 30 } }. */
  readonly limits: Readonly<Record<string, LoadControlLimits>>;
}

export interface SharingChoices {
  readonly vendor: ShareLevel;
  /** Named third parties, e.g. { utility: { mode: 'summary', windowMinutes: 60 } }. */
  readonly thirdParties: Readonly<Record<string, ShareLevel>>;
  /** Whether commands from the vendor reach the device. */
  readonly vendorCommands: boolean;
  readonly loadControl: LoadControlChoice;
}

/** Privacy by default: nothing leaves, no vendor commands, no load control. */
export const DEFAULT_SHARING: SharingChoices = Object.freeze({
  vendor: Object.freeze({ mode: 'none' as const }),
  thirdParties: Object.freeze({}),
  vendorCommands: false,
  loadControl: Object.freeze({ optIn: false, limits: Object.freeze({}) }),
});

/** Builds the PortMapper a setting names. */
import { AutoMapper, type AutoOptions } from './auto-mapper';
import { NatPmpMapper } from './natpmp-mapper';
import { UpnpMapper } from './upnp-mapper';
import type { PortMapper } from './types';

/** 'upnp' speaks IGD v2 or v1 as the router offers; 'upnp-v1'/'upnp-v2' insist on one version. */
export const BACKEND_CHOICES = ['auto', 'upnp', 'natpmp', 'upnp-v1', 'upnp-v2'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export function isBackendChoice(v: unknown): v is BackendChoice {
  return (BACKEND_CHOICES as readonly unknown[]).includes(v);
}

export type SelectOptions = AutoOptions;

export function createPortMapper(choice: BackendChoice, options: SelectOptions = {}): PortMapper {
  switch (choice) {
    case 'natpmp':
      return new NatPmpMapper(options.natPmp);
    case 'upnp':
      return new UpnpMapper(options.upnp);
    case 'upnp-v1':
      return new UpnpMapper({ ...options.upnp, igd: 'v1' });
    case 'upnp-v2':
      return new UpnpMapper({ ...options.upnp, igd: 'v2' });
    case 'auto':
      return new AutoMapper(options);
  }
}

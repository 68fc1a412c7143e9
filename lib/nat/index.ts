/** Port mapping on the home router: UPnP IGD v1 (nat-upnp) and v2, NAT-PMP, and a manager that keeps a mapping alive. */
export * from './types';
export * from './errors';
export * from './select';
export { MappingManager, type MappingState, type MappingStatus, type MappedReason, type MappingManagerOptions } from './mapping-manager';
export { NatPmpMapper, type NatPmpOptions } from './natpmp-mapper';
export { UpnpMapper, type UpnpOptions } from './upnp-mapper';
export { AutoMapper, type AutoOptions } from './auto-mapper';
export { RFC6886_SCHEDULE, type RetransmitSchedule } from './natpmp-transport';
export { defaultGateway, parseDefaultGateway } from './default-gateway';

/** Public entry of the protocol cores, for other projects that want them without Node-RED. */
export * from './coap/codes';
export * from './coap/content-format';
export * from './coap/endpoint';
export * from './coap/link-format';
export * from './coap/query';
export * from './coap/router';
export * as oscore from './oscore';

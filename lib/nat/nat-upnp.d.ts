// nat-upnp ships no types; this covers the part lib/nat/upnp-v1-control.ts uses.
declare module 'nat-upnp' {
  /** xml2js 0.1 output: element name -> text, nested object, or '@' attributes. */
  type Xml2jsNode = { [name: string]: string | Xml2jsNode };
  interface NatUpnpDevice {
    run(action: string, args: Array<[string, string | number | undefined]>, callback: (err: Error | null, body?: Xml2jsNode) => void): void;
  }
  export const device: { create(descriptionUrl: string): NatUpnpDevice };
}

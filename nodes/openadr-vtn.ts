/** The utility's OpenADR 3 VTN: base URL and OAuth2 client credentials (in Node-RED credentials). */
import type { NodeAPI, NodeDef } from 'node-red';
import { VtnClient } from '../lib/loadcontrol/vtn-client';
import type { OpenAdrVtnCredentials, OpenAdrVtnNode } from './openadr-vtn-node';

interface OpenAdrVtnDef extends NodeDef {
  baseUrl: string;
  tokenUrl: string;
  scope: string;
}

export = function register(RED: NodeAPI): void {
  function OpenAdrVtnConfig(this: OpenAdrVtnNode, config: OpenAdrVtnDef): void {
    RED.nodes.createNode(this, config);
    this.baseUrl = (config.baseUrl ?? '').trim();
    let client: VtnClient | undefined;
    this.vtnClient = (): VtnClient | string => {
      if (client) return client;
      if (!/^https?:\/\/\S+$/.test(this.baseUrl)) return `the VTN base URL "${this.baseUrl}" is not an http(s) URL`;
      if (!this.credentials?.clientId || !this.credentials?.clientSecret) return 'set the VTN client id and secret';
      const url = new URL(this.baseUrl);
      if (url.protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
        this.warn(`${url.host} is plain http: the client secret and tokens cross the network unencrypted`);
      }
      client = new VtnClient({
        baseUrl: this.baseUrl,
        clientId: this.credentials.clientId,
        clientSecret: this.credentials.clientSecret,
        tokenUrl: config.tokenUrl?.trim() || undefined,
        scope: config.scope?.trim() || undefined,
      });
      return client;
    };
  }
  RED.nodes.registerType<OpenAdrVtnNode, OpenAdrVtnDef, object, OpenAdrVtnCredentials>('openadr-vtn', OpenAdrVtnConfig, {
    credentials: { clientId: { type: 'text' }, clientSecret: { type: 'password' } },
  });
};

/** What load-control nodes see of an openadr-vtn config node. */
import type { Node } from 'node-red';
import type { VtnClient } from '../lib/loadcontrol/vtn-client';

export interface OpenAdrVtnCredentials {
  clientId?: string;
  clientSecret?: string;
}

export interface OpenAdrVtnNode extends Node<OpenAdrVtnCredentials> {
  /** A client for this VTN, or the reason there is none (missing credentials, bad URL). */
  vtnClient(): VtnClient | string;
  baseUrl: string;
}

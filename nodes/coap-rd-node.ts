/** What other nodes (the proxy, groups) see of a coap-rd node: its directory of registered endpoints. */
import type { Node } from 'node-red';
import type { EndpointDirectory } from '../lib/coap/rd/directory';

export interface CoapRdNode extends Node {
  /** Live view of the registrations; find it with RED.nodes.getNode(id). */
  directory: EndpointDirectory;
}

/** A flow's CoAP client for registered devices: one request (or observation) to an endpoint or a group, by name. */
import type { NodeAPI, Node, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { CoapClient, CoapResetError, CoapTimeoutError, type ClientRequest, type ClientResponse, type Observation } from '../lib/coap/client';
import { contentFormatNumber, decodePayload, encodePayload } from '../lib/coap/content-format';
import { DEFAULT_PROXY_OPTIONS } from '../lib/coap/proxy/reverse-proxy';
import { fanOut, groupMembers, NoCoapBaseError, parseGroups, type GroupDefinition } from '../lib/coap/proxy/groups';
import { resolveByName, targetOf } from '../lib/coap/proxy/resolve';
import type { EndpointDirectory, RegisteredEndpoint } from '../lib/coap/rd/directory';
import type { OptionValue } from '../lib/coap/endpoint';
import { METHODS, type Method } from '../lib/coap/router';
import { integerSetting, settingsOrRefuse } from './settings';
import type { CoapRdNode } from './coap-rd-node';
import { oscoreObserve, oscoreRequest, OscoreRefusedError, type OscoreObserveHandlers } from '../lib/oscore/coap-client';
import { isOscoreError } from '../lib/oscore/errors';
import { contextIds, resolveContexts, type ResolvedContext } from './oscore-node';

interface CoapRequestDef extends NodeDef {
  rd: string;
  method: string;
  path: string;
  target: string;
  targetType: string;
  timeout: string | number;
  /** Optional oscore-context config node id: protect requests end to end (RFC 8613). */
  oscore: string;
}

/** What a flow may set on msg to override the node's settings. */
interface RequestMessage extends NodeMessageInFlow {
  endpoint?: unknown;
  sector?: unknown;
  group?: unknown;
  path?: unknown;
  method?: unknown;
  contentFormat?: unknown;
  query?: unknown;
  observe?: unknown;
}

type Send = (msg: NodeMessage) => void;
type Done = (err?: Error) => void;

/** A mistake in the message or the flow, reported through done(err), never thrown at Node-RED. */
class RequestError extends Error {}

const WITH_BODY = new Set<Method>(['POST', 'PUT', 'FETCH', 'PATCH', 'iPATCH']);

function methodOf(value: unknown): Method {
  const text = typeof value === 'string' ? value.trim() : '';
  const method = METHODS.find((m) => m.toLowerCase() === text.toLowerCase());
  if (!method) throw new RequestError(`unknown method "${String(value)}": use one of ${METHODS.join(', ')}`);
  return method;
}

function pathOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value !== 'string') throw new RequestError('msg.path must be a string like "/sensors/temp"');
  return value.split('/').filter((s) => s !== '');
}

/** msg.query as "a=1&b=2", ["a=1", "b=2"] or {a: 1, b: [2, 3]}. */
function queryOf(value: unknown): string[] {
  if (value === undefined || value === null || value === '') return [];
  if (typeof value === 'string') return value.replace(/^\?/, '').split('&').filter((q) => q !== '');
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
      (Array.isArray(v) ? v : [v]).map((x) => (x === true || x === '' ? k : `${k}=${String(x)}`)),
    );
  }
  throw new RequestError('msg.query must be a string, a list or an object');
}

function uint(bytes: Buffer): number {
  let n = 0;
  for (const b of bytes) n = n * 256 + b;
  return n;
}

function contentFormatOf(res: ClientResponse): number | undefined {
  const value = res.options['Content-Format'];
  if (value === undefined) return undefined;
  if (Buffer.isBuffer(value)) return uint(value);
  return contentFormatNumber(value);
}

/** The answer as a flow reads it: payload decoded by its Content-Format, raw bytes when it lies. */
function readResponse(res: ClientResponse): { payload: unknown; contentFormat?: number; decodeError?: string } {
  const contentFormat = contentFormatOf(res);
  try {
    return { payload: decodePayload(res.payload, contentFormat), contentFormat };
  } catch (err) {
    return { payload: res.payload, contentFormat, decodeError: (err as Error).message };
  }
}

function describeFailure(err: Error, who: string): RequestError {
  if (err instanceof OscoreRefusedError) return new RequestError(`${err.code}: endpoint "${who}" refused the OSCORE request: ${err.diagnostic || 'no reason given'}`);
  if (isOscoreError(err)) return new RequestError(`OSCORE: the answer of "${who}" was rejected (${err.kind}): ${err.message}`);
  if (err instanceof CoapTimeoutError) return new RequestError(`5.04: endpoint "${who}" did not answer within ${err.timeoutMs} ms`);
  if (err instanceof CoapResetError) return new RequestError(`5.02: endpoint "${who}" answered with a reset`);
  return new RequestError(`5.02: endpoint "${who}" could not be reached: ${err.message}`);
}

export = function register(RED: NodeAPI): void {
  function CoapRequestNode(this: Node, config: CoapRequestDef): void {
    RED.nodes.createNode(this, config);
    const timeoutS = settingsOrRefuse(this, 'coap-request', () => integerSetting('timeout', config.timeout, 5, 1, 600));
    if (timeoutS === undefined) return;
    const timeoutMs = timeoutS * 1000;
    const client = new CoapClient();
    const oscoreIds = contextIds(config.oscore);
    /** The security context, looked up at each use so a failed one reports on every message. */
    const security = (): ResolvedContext | undefined => (oscoreIds.length === 0 ? undefined : resolveContexts(RED, oscoreIds)[0]);
    try {
      const s = security();
      if (s) this.status({ fill: 'grey', shape: 'ring', text: `OSCORE: ${s.label}` });
    } catch (err) {
      this.status({ fill: 'red', shape: 'ring', text: (err as Error).message.slice(0, 60) });
    }
    const observations = new Map<string, Observation>();
    let closed = false;

    const showObserving = (): void => {
      if (observations.size > 0) this.status({ fill: 'blue', shape: 'dot', text: `observing ${observations.size}` });
    };

    // Looked up at each use: the coap-rd node may be created after this one, or redeployed.
    const directory = (): EndpointDirectory => {
      const rd = config.rd ? (RED.nodes.getNode(config.rd) as Partial<CoapRdNode> | null) : null;
      if (!rd?.directory) throw new RequestError('no resource directory: choose a coap-rd node');
      return rd.directory;
    };

    /** A group by name from the coap-proxy nodes on the same directory, or members given in the message. */
    const groupOf = (value: unknown): GroupDefinition => {
      if (Array.isArray(value)) return { name: '(members)', members: value.map(String) };
      const name = String(value).trim();
      if (name.startsWith('sector:') || name.startsWith('rt:')) return { name, members: [name] };
      let found: GroupDefinition | undefined;
      RED.nodes.eachNode((n) => {
        const def = n as NodeDef & { rd?: string; groups?: unknown };
        if (found || def.type !== 'coap-proxy' || def.rd !== config.rd) return;
        try {
          found = parseGroups(def.groups).find((g) => g.name === name);
        } catch {
          // that proxy reports its own bad configuration
        }
      });
      if (!found) throw new RequestError(`no group "${name}": define it in a coap-proxy node on the same coap-rd, or set msg.group to a list of members`);
      return found;
    };

    const resolveEndpoint = (ep: string, d: string | undefined): RegisteredEndpoint => {
      const r = resolveByName(directory(), ep, d);
      if (r.kind === 'found') return r.endpoint;
      if (r.kind === 'ambiguous') throw new RequestError(`endpoint "${ep}" is registered in sectors ${r.sectors.map((s) => JSON.stringify(s)).join(', ')}: set msg.sector`);
      if (r.kind === 'unreachable') throw new RequestError(`endpoint "${ep}" registered base ${r.endpoint.base}, which is not a coap:// address`);
      throw new RequestError(`unknown endpoint "${ep}"${d !== undefined ? ` in sector "${d}"` : ''}: not registered in the resource directory`);
    };

    const respond = (msg: NodeMessage, endpoint: RegisteredEndpoint, req: ClientRequest, res: ClientResponse): NodeMessage => {
      const { payload, contentFormat, decodeError } = readResponse(res);
      const out = RED.util.cloneMessage(msg) as NodeMessage & Record<string, unknown>;
      out.payload = payload;
      out.statusCode = res.code;
      out.coap = {
        code: res.code,
        options: res.options,
        endpoint: endpoint.ep,
        sector: endpoint.d,
        base: endpoint.base,
        method: req.method,
        path: `/${req.path.join('/')}`,
        contentFormat,
        ...(typeof res.options['Observe'] === 'number' ? { observe: res.options['Observe'] } : {}),
        ...(decodeError ? { decodeError } : {}),
      };
      return out;
    };

    const handle = (msg: RequestMessage, send: Send, done: Done): void => {
      const method = methodOf(msg.method ?? (config.method || 'GET'));
      const path = pathOf(msg.path ?? config.path ?? '');
      const query = queryOf(msg.query);
      let groupName: unknown = msg.group;
      let ep: unknown = msg.endpoint;
      if (groupName === undefined && ep === undefined && config.target) {
        if (config.targetType === 'group') groupName = config.target;
        else ep = config.target;
      }
      const sector = msg.sector === undefined ? undefined : String(msg.sector);
      const key = `${groupName !== undefined ? `g:${JSON.stringify(groupName)}` : `e:${String(ep)}\u0000${sector ?? ''}`}\u0000/${path.join('/')}`;

      if (msg.observe === false) {
        // Ends the observation of that target and path, if any; nothing goes out.
        observations.get(key)?.cancel();
        observations.delete(key);
        if (observations.size === 0) this.status({});
        else showObserving();
        return done();
      }

      const options: Record<string, OptionValue> = {};
      let payload: Buffer | undefined;
      if (WITH_BODY.has(method)) {
        const requested = msg.contentFormat === undefined ? undefined : contentFormatNumber(msg.contentFormat);
        if (msg.contentFormat !== undefined && requested === undefined) throw new RequestError(`unknown Content-Format "${String(msg.contentFormat)}"`);
        const encoded = encodePayload(msg.payload, requested);
        payload = encoded.payload;
        if (encoded.format !== undefined && payload.length > 0) options['Content-Format'] = encoded.format;
      }
      const req: ClientRequest = { method, path, query, payload, options };
      let secured: ResolvedContext | undefined;
      try {
        secured = security();
      } catch (err) {
        throw new RequestError((err as Error).message);
      }

      if (groupName !== undefined) {
        if (secured) throw new RequestError('an OSCORE context protects one endpoint: set msg.endpoint, not msg.group');
        if (msg.observe === true) throw new RequestError('observe reaches one endpoint: set msg.endpoint, not msg.group');
        const group = groupOf(groupName);
        const { endpoints, missing } = groupMembers(group, directory());
        if (endpoints.length > DEFAULT_PROXY_OPTIONS.maxGroupSize) {
          throw new RequestError(`group "${group.name}" has ${endpoints.length} members, more than ${DEFAULT_PROXY_OPTIONS.maxGroupSize}`);
        }
        this.status({ fill: 'yellow', shape: 'dot', text: `${method} group ${group.name}` });
        void fanOut(client, endpoints, req, timeoutMs).then((answers) => {
          const results = answers.map(({ endpoint: e, code, response, error }) =>
            response
              ? { endpoint: e.ep, sector: e.d, statusCode: code, ...readResponse(response) }
              : { endpoint: e.ep, sector: e.d, statusCode: code, error: error instanceof NoCoapBaseError ? error.message : describeFailure(error ?? new Error('no answer'), e.ep).message },
          );
          if (closed) return done();
          const out = RED.util.cloneMessage(msg) as NodeMessage & Record<string, unknown>;
          out.payload = [...results, ...missing.map((name) => ({ endpoint: name, statusCode: '4.04', error: 'not registered' }))];
          out.coap = { group: group.name, method, path: `/${path.join('/')}` };
          const ok = results.filter((r) => r.statusCode.startsWith('2.')).length;
          this.status({ fill: ok === results.length && missing.length === 0 ? 'green' : 'yellow', shape: 'dot', text: `group ${group.name}: ${ok}/${results.length + missing.length} ok` });
          send(out);
          done();
        });
        return;
      }

      if (ep === undefined || ep === '') throw new RequestError('no target: set msg.endpoint or msg.group, or a default target in the node');
      const endpoint = resolveEndpoint(String(ep), sector);
      const target = targetOf(endpoint);
      if (!target) throw new RequestError(`endpoint "${endpoint.ep}" has no reachable base`);

      if (msg.observe === true) {
        if (method !== 'GET') throw new RequestError('observe needs method GET');
        observations.get(key)?.cancel();
        let first = true;
        let dropped = 0;
        const handlers: OscoreObserveHandlers = {
          onNotification: (res) => {
            if (closed) return;
            const out = respond(msg, endpoint, req, res) as NodeMessage & Record<string, unknown>;
            if (secured) out.oscore = { context: secured.label };
            send(out);
            if (first) {
              first = false;
              done();
            }
          },
          onDropped: (err) => {
            // A replayed or older notification (RFC 8613 §7.4.1), or one that did not verify: never sent on.
            dropped++;
            if (!closed) this.status({ fill: 'yellow', shape: 'ring', text: `observing ${observations.size}; dropped ${dropped} (${err.kind})` });
          },
          onEnd: (err) => {
            if (observations.get(key) === observation) observations.delete(key);
            if (observations.size === 0) this.status(err ? { fill: 'red', shape: 'ring', text: describeFailure(err, endpoint.ep).message } : {});
            else showObserving();
            if (closed) return;
            if (first) {
              first = false;
              done(err ? describeFailure(err, endpoint.ep) : undefined);
            } else if (err) {
              this.error(describeFailure(err, endpoint.ep), msg);
            }
          },
        };
        const observation = secured ? oscoreObserve(client, target, req, secured.context, handlers, timeoutMs) : client.observe(target, req, handlers, timeoutMs);
        observations.set(key, observation);
        showObserving();
        return;
      }

      this.status({ fill: 'yellow', shape: 'dot', text: `${method} ${endpoint.ep}` });
      const sent = secured ? oscoreRequest(client, target, req, secured.context, timeoutMs) : client.request(target, req, timeoutMs);
      sent.then(
        (res) => {
          if (closed) return done();
          this.status({ fill: res.code.startsWith('2.') ? 'green' : 'yellow', shape: 'dot', text: `${res.code} from ${endpoint.ep}${secured ? ' (OSCORE)' : ''}` });
          const out = respond(msg, endpoint, req, res) as NodeMessage & Record<string, unknown>;
          if (secured) out.oscore = { context: secured.label };
          send(out);
          done();
        },
        (err: Error) => {
          const failure = describeFailure(err, endpoint.ep);
          if (!closed) this.status({ fill: 'red', shape: 'ring', text: failure.message });
          done(failure);
        },
      );
    };

    this.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      try {
        handle(msg as RequestMessage, send, done);
      } catch (err) {
        // Only our RequestErrors are expected here; anything else is still reported, not thrown.
        const error = err instanceof Error ? err : new Error(String(err));
        this.status({ fill: 'red', shape: 'ring', text: error.message.slice(0, 60) });
        done(error);
      }
    });

    this.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      for (const o of observations.values()) o.cancel();
      observations.clear();
      // Give the deregistrations a moment on the wire before the socket goes.
      setTimeout(() => void client.close().then(done, done), 50);
    });
  }
  RED.nodes.registerType('coap-request', CoapRequestNode);
};

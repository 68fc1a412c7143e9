/** A real node-coap client request, for tests that talk to an endpoint over loopback. */
import { request as coapRequest, Agent } from 'coap';
import type { IncomingMessage } from 'coap';
import type { OptionValue } from '../../lib/coap/endpoint';

export interface ClientReply {
  code: string;
  payload: Buffer;
  options: Record<string, OptionValue>;
  headers: Record<string, unknown>;
}

export interface ClientRequest {
  port: number;
  host?: string;
  method?: string;
  pathname: string;
  query?: string;
  payload?: Buffer | string;
  options?: Record<string, OptionValue>;
  confirmable?: boolean;
}

export function coapCall(req: ClientRequest, timeoutMs = 5000): Promise<ClientReply> {
  return new Promise((resolve, reject) => {
    const agent = new Agent({ type: req.host?.includes(':') ? 'udp6' : 'udp4' });
    const out = coapRequest({
      host: req.host ?? '127.0.0.1',
      port: req.port,
      method: (req.method ?? 'GET') as 'GET',
      pathname: req.pathname,
      query: req.query,
      confirmable: req.confirmable ?? true,
      agent,
    });
    for (const [k, v] of Object.entries(req.options ?? {})) out.setOption(k, v);
    // The agent closes its own socket once no request is outstanding; only a timeout needs help.
    const timer = setTimeout(() => {
      closeQuietly(agent);
      reject(new Error(`no CoAP answer from ${req.pathname} within ${timeoutMs} ms`));
    }, timeoutMs);
    out.on('response', (res: IncomingMessage) => {
      clearTimeout(timer);
      const options: Record<string, OptionValue> = {};
      const raw = (res as unknown as { options?: Array<{ name: string | number; value: OptionValue }> }).options ?? [];
      for (const o of raw) options[String(o.name)] = o.value;
      resolve({ code: res.code, payload: res.payload, options, headers: res.headers as Record<string, unknown> });
    });
    out.on('error', (err: Error) => {
      clearTimeout(timer);
      closeQuietly(agent);
      reject(err);
    });
    out.end(req.payload);
  });
}

function closeQuietly(agent: Agent): void {
  try {
    agent.close();
  } catch {
    // already closed by itself
  }
}

/**
 * The owner's dashboard and the editor's sidebar tab, as a Node-RED plugin: a page and a JSON
 * API on the admin HTTP server (under httpAdminRoot), behind adminAuth with the permissions
 * edge-gateway.read (look) and edge-gateway.write (claim, change choices, opt out of an event).
 */
import { join } from 'node:path';
import type { NodeAPI, NodeDef } from 'node-red';
import type { Request, Response, NextFunction } from 'express';
import { deleteClaim, getState, postClaim, postOptOut, putSharing, type ApiContext, type ApiReply } from '../../lib/dashboard/api';
import { requestAllows } from '../../lib/dashboard/permissions';
import { parseNameList } from '../../lib/sharing/names';
import { catalogueFromSetting } from './catalogue-setting';
import { endpointDirectories, loadControlOwners, provisioningServices } from './services';

const PAGE_FILES: Record<string, { file: string; type: string }> = {
  'index.html': { file: join(__dirname, 'page', 'index.html'), type: 'text/html; charset=utf-8' },
  'dashboard.css': { file: join(__dirname, 'page', 'dashboard.css'), type: 'text/css; charset=utf-8' },
  'dashboard.js': { file: join(__dirname, 'page', 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  // The QR decoder ships as a dependency; the page loads it from here, never from a CDN.
  'jsQR.js': { file: require.resolve('jsqr'), type: 'text/javascript; charset=utf-8' },
};

// The page needs its own scripts, the camera and decoded images, nothing from elsewhere.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

type AuthedRequest = Request & { user?: unknown; authInfo?: { scope?: unknown } };

export = function register(RED: NodeAPI): void {
  RED.plugins.registerPlugin('edge-gateway-dashboard', { type: 'edge-gateway-dashboard' });
  const read = RED.auth.needsPermission('edge-gateway.read');
  // Node-RED answers a missing permission with 401, which reads as "log in again". A logged-in
  // user who may look but not change gets 403 instead: authenticated by needsPermission (read),
  // then the write permission checked on the token's scope by Node-RED's rules.
  const write = [
    read,
    (req: Request, res: Response, next: NextFunction) => {
      if (requestAllows(req as AuthedRequest, 'edge-gateway.write')) return next();
      res.status(403).json({ error: 'your user may look but not change (needs edge-gateway.write)' });
    },
  ];
  const settings = RED.settings as unknown as { edgeGateway?: { vendorCatalogue?: unknown }; userDir?: string };
  const catalogue = catalogueFromSetting(settings.edgeGateway?.vendorCatalogue, settings.userDir, (m) => RED.log.warn(`[edge-gateway dashboard] ${m}`));

  const ctx: ApiContext = {
    provisioning: () => provisioningServices(RED),
    directories: () => endpointDirectories(RED),
    loadControl: () => loadControlOwners(RED),
    catalogue,
    thirdParties: () => {
      const names = new Set<string>();
      RED.nodes.eachNode((def: NodeDef & { thirdParties?: unknown }) => {
        if (def.type !== 'data-sharing' || typeof def.thirdParties !== 'string') return;
        try {
          for (const n of parseNameList(def.thirdParties, (reason) => new Error(reason))) names.add(n);
        } catch {
          // that data-sharing node reports its own bad setting
        }
      });
      return [...names];
    },
    now: () => Date.now(),
  };

  const reply = (res: Response, r: ApiReply): void => {
    res.set('Cache-Control', 'no-store');
    res.status(r.status).json(r.body);
  };
  // A failing service must answer 500, not take Node-RED down through an unhandled rejection.
  const handle = (fn: (req: AuthedRequest) => ApiReply | Promise<ApiReply>) => (req: Request, res: Response, next: NextFunction) => {
    Promise.resolve()
      .then(() => fn(req as AuthedRequest))
      .then((r) => reply(res, r))
      .catch((err: Error) => {
        RED.log.warn(`[edge-gateway dashboard] ${req.method} ${req.path}: ${err.message}`);
        if (res.headersSent) return next(err);
        reply(res, { status: 500, body: { error: 'internal error (see the Node-RED log)' } });
      });
  };

  const sendPage = (name: string) => (req: Request, res: Response) => {
    const page = PAGE_FILES[name];
    if (!page) return res.status(404).end();
    // Relative links in the page need the trailing slash.
    if (name === 'index.html' && !req.originalUrl.split('?')[0]?.endsWith('/')) return res.redirect(301, `${req.originalUrl.split('?')[0]}/`);
    res.set({ 'Content-Type': page.type, 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache' });
    res.sendFile(page.file);
  };

  // The page itself holds no data: it loads without a token and then logs in.
  RED.httpAdmin.get('/edge-gateway', sendPage('index.html'));
  RED.httpAdmin.get('/edge-gateway/:file(dashboard\\.css|dashboard\\.js|jsQR\\.js)', (req, res) => sendPage(String(req.params.file))(req, res));

  RED.httpAdmin.get('/edge-gateway/api/state', read, handle((req) => getState(ctx, requestAllows(req, 'edge-gateway.write'))));
  RED.httpAdmin.post('/edge-gateway/api/claims', write, handle((req) => postClaim(ctx, req.body)));
  RED.httpAdmin.delete('/edge-gateway/api/claims/:id', write, handle((req) => deleteClaim(ctx, String(req.params.id), req.query.registry)));
  RED.httpAdmin.put('/edge-gateway/api/devices/:id/sharing', write, handle((req) => putSharing(ctx, String(req.params.id), req.body)));
  RED.httpAdmin.post('/edge-gateway/api/devices/:id/load-control/opt-out', write, handle((req) => postOptOut(ctx, String(req.params.id))));
};

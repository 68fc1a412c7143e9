/**
 * Whether a Node-RED admin token's scope holds a permission, by Node-RED's own rules
 * (@node-red/editor-api permissions: "*" is everything, "read" / "*.read" every "<x>.read",
 * "write" / "*.write" every "<x>.write", otherwise exact names). Used only to show or hide
 * controls; the routes themselves are guarded by RED.auth.needsPermission.
 */
const READ = /^((.+)\.)?read$/;
const WRITE = /^((.+)\.)?write$/;

export function scopeAllows(scope: unknown, wanted: string): boolean {
  if (Array.isArray(scope)) return scope.some((s) => scopeAllows(s, wanted));
  if (scope === '*' || scope === wanted) return true;
  if (scope === 'read' || scope === '*.read') return READ.test(wanted);
  if (scope === 'write' || scope === '*.write') return WRITE.test(wanted);
  return false;
}

/** req.user is set only under adminAuth; without it everything is allowed. */
export function requestAllows(req: { user?: unknown; authInfo?: { scope?: unknown } }, wanted: string): boolean {
  if (req.user === undefined || req.user === null) return true;
  return scopeAllows(req.authInfo?.scope, wanted);
}

/**
 * Maps (method, Uri-Path segments) to whatever serves them. Patterns are "/a/b", "/a/:name"
 * (one segment, captured) and "/a/*" (the rest of the path, captured as "*").
 */

export const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'FETCH', 'PATCH', 'iPATCH'] as const;
export type Method = (typeof METHODS)[number];
export type MethodFilter = Method | 'ANY';

export function isMethodFilter(value: unknown): value is MethodFilter {
  return value === 'ANY' || (METHODS as readonly unknown[]).includes(value);
}

export type RouteMatch<T> =
  | { kind: 'found'; value: T; params: Record<string, string> }
  | { kind: 'method-not-allowed' }
  | { kind: 'not-found' };

interface Route<T> {
  method: MethodFilter;
  segments: string[];
  value: T;
}

export class RouteConflictError extends Error {}

export function patternSegments(pattern: string): string[] {
  return pattern.split('/').filter((s) => s !== '');
}

export class Router<T> {
  private readonly routes: Route<T>[] = [];
  /** The same routes in match order (most specific first, then oldest), so match() never sorts. */
  private readonly matchOrder: Route<T>[] = [];

  /** Adds a route and returns the function that removes it. */
  add(method: MethodFilter, pattern: string, value: T): () => void {
    const segments = patternSegments(pattern);
    const clash = this.routes.find(
      (r) => r.segments.join('/') === segments.join('/') && (r.method === method || r.method === 'ANY' || method === 'ANY'),
    );
    if (clash) throw new RouteConflictError(`${method} /${segments.join('/')} is already served`);
    const route: Route<T> = { method, segments, value };
    this.routes.push(route);
    const rank = specificity(route);
    const at = this.matchOrder.findIndex((r) => specificity(r) < rank);
    this.matchOrder.splice(at < 0 ? this.matchOrder.length : at, 0, route);
    return () => {
      for (const list of [this.routes, this.matchOrder]) {
        const i = list.indexOf(route);
        if (i >= 0) list.splice(i, 1);
      }
    };
  }

  match(method: string, path: readonly string[]): RouteMatch<T> {
    let pathMatched = false;
    // Exact segments win over parameters, so "/a/b" beats "/a/:x" whatever the order added.
    for (const route of this.matchOrder) {
      const params = matchSegments(route.segments, path);
      if (!params) continue;
      pathMatched = true;
      if (route.method === 'ANY' || route.method === method) return { kind: 'found', value: route.value, params };
    }
    return pathMatched ? { kind: 'method-not-allowed' } : { kind: 'not-found' };
  }

  values(): T[] {
    return this.routes.map((r) => r.value);
  }
}

function specificity(route: Route<unknown>): number {
  return route.segments.reduce((n, s) => n + (s === '*' ? 0 : s.startsWith(':') ? 1 : 2), 0) * 2 + route.segments.length;
}

function matchSegments(pattern: readonly string[], path: readonly string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] as string;
    if (p === '*') {
      params['*'] = path.slice(i).join('/');
      return params;
    }
    const segment = path[i];
    if (segment === undefined) return undefined;
    if (p.startsWith(':')) params[p.slice(1)] = segment;
    else if (p !== segment) return undefined;
  }
  return path.length === pattern.length ? params : undefined;
}

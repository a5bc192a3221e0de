import { RequiredAction, Resource } from './access-actions';
import { Grants } from './access-grants';
import { readJsonFields } from './json-body-fields';

/** A request decided from its path and query: it needs `action` on `resource`. */
export interface PermissionCheck {
  readonly kind: 'check';
  readonly action: RequiredAction;
  readonly resource: Resource;
  /** What OpenFaaS acts on, for the audit log; undefined for the resource `*`. */
  readonly namespace: string | undefined;
  /** The function, secret or (for Namespace:*) `*`; undefined for the resource `*`. */
  readonly name: string | undefined;
  /** GET /system/namespaces: passes when Namespace:List is held anywhere; the answer goes through filterNamespaces. */
  readonly filtersNamespaces: boolean;
}

/** A request answered 400 with `message`, one sentence, before anything reaches OpenFaaS. */
export interface PermissionRefusal {
  readonly kind: 'refuse';
  readonly message: string;
}

/**
 * A request whose name or namespace OpenFaaS reads from the JSON body: read the body (within the
 * cap), decide on those bytes, then forward the same bytes.
 */
export interface BodyPermission {
  readonly kind: 'body';
  readonly action: RequiredAction;
  /** The body field naming the target: service, functionName or name. */
  readonly field: string;
  decide(body: Buffer): PermissionCheck | PermissionRefusal;
}

export type RequestPermission = PermissionCheck | BodyPermission | PermissionRefusal;

/**
 * Go's url.ParseQuery gives up on a query of more than this many parameters (Go 1.24+, as
 * `urlmaxqueryparams`), and OpenFaaS then sees no namespace at all; no client sends that many.
 */
export const MAX_QUERY_PARAMETERS = 1000;

const UNLISTED: PermissionCheck = Object.freeze({
  kind: 'check',
  action: '*',
  resource: '*',
  namespace: undefined,
  name: undefined,
  filtersNamespaces: false,
});

const NAMESPACE = 'namespace';

/**
 * Classifies a proxied request into the action and resource the contract's table gives it, with the
 * namespace and name read where OpenFaaS's provider (faas-netes) reads them. `rawPath` and
 * `rawQuery` are the request target as received, split at its first `?`; routes are matched after
 * percent-decoding each segment, as OpenFaaS's router does. Methods are case-sensitive, as there.
 */
export function classifyRequest(method: string, rawPath: string, rawQuery: string | undefined, defaultNamespace: string): RequestPermission {
  if (rawPath.startsWith('/function/')) return classifyInvocation(rawPath.slice('/function/'.length), defaultNamespace);
  if (rawPath.startsWith('/async-function/')) return classifyInvocation(rawPath.slice('/async-function/'.length), defaultNamespace);
  if (!rawPath.startsWith('/system/')) return UNLISTED;
  const segments = decodeSegments(rawPath.slice('/system/'.length));
  if (!Array.isArray(segments)) return segments;
  const route = new Route(method, rawQuery ?? '', defaultNamespace);
  const [first, second] = segments;
  if (segments.length === 1) {
    switch (`${method} ${first}`) {
      case 'GET functions':
        return route.inQueryNamespace('Function:List', '*');
      case 'POST functions':
        return route.fromBody('Function:Create', 'service', 'function', 'body');
      case 'PUT functions':
        return route.fromBody('Function:Update', 'service', 'function', 'body');
      case 'DELETE functions':
        return route.fromBody('Function:Delete', 'functionName', 'function', 'query');
      case 'GET logs':
        return route.logs();
      case 'GET secrets':
        return route.inQueryNamespace('Secret:List', '*');
      case 'POST secrets':
        return route.fromBody('Secret:Create', 'name', 'secret', 'body');
      case 'PUT secrets':
        return route.fromBody('Secret:Update', 'name', 'secret', 'body');
      case 'DELETE secrets':
        return route.fromBody('Secret:Delete', 'name', 'secret', 'body');
      case 'GET namespaces':
        return { ...everywhere('Namespace:List'), filtersNamespaces: true };
      case 'GET info':
        return everywhere('System:Info');
    }
  } else if (segments.length === 2) {
    switch (`${method} ${first}`) {
      case 'GET function':
        return second ? route.inQueryNamespace('Function:Get', second) : refuse('the path must name the function');
      case 'POST scale-function':
        return second ? route.inQueryNamespace('Function:Scale', second) : refuse('the path must name the function');
      case 'GET namespace':
        return route.namespaceInPath('Namespace:Get', second);
      case 'PUT namespace':
        return route.namespaceInPath('Namespace:Update', second);
      case 'DELETE namespace':
        return route.namespaceInPath('Namespace:Delete', second);
      case 'POST namespace':
        return route.createNamespace(second);
    }
  }
  return UNLISTED;
}

/** Whether the grants let the classified request through (Namespace:List: held anywhere, then filtered). */
export function isPermitted(grants: Grants, permission: PermissionCheck): boolean {
  if (permission.filtersNamespaces) return grants.holdsAnywhere(permission.action);
  return grants.allowsResource(permission.action, permission.resource);
}

/** The namespaces of an answer to GET /system/namespaces (or GraphQL `namespaces`) the token may see. */
export function filterNamespaces(grants: Grants, names: readonly string[]): string[] {
  const visible = grants.anyActionNamespaces();
  return visible === '*' ? [...names] : names.filter((name) => visible.has(name));
}

/** The per-request reading of the query and the default namespace. */
class Route {
  constructor(
    private readonly method: string,
    private readonly rawQuery: string,
    private readonly defaultNamespace: string,
  ) {}

  /** A route whose namespace is the `namespace` query parameter. */
  inQueryNamespace(action: RequiredAction, name: string): PermissionCheck | PermissionRefusal {
    const query = readQuery(this.rawQuery, [NAMESPACE]);
    if (!(query instanceof Map)) return query;
    const namespace = single(query, NAMESPACE);
    if (typeof namespace === 'object') return namespace;
    return check(action, namespace || this.defaultNamespace, name);
  }

  /** GET /system/logs?name=NAME[&namespace=NS] */
  logs(): PermissionCheck | PermissionRefusal {
    const query = readQuery(this.rawQuery, [NAMESPACE, 'name']);
    if (!(query instanceof Map)) return query;
    const namespace = single(query, NAMESPACE);
    if (typeof namespace === 'object') return namespace;
    const name = single(query, 'name');
    if (typeof name === 'object') return name;
    if (!name) return refuse('the "name" query parameter must name the function whose logs to read');
    return check('Function:Logs', namespace || this.defaultNamespace, name);
  }

  /** GET/PUT/DELETE /system/namespace/NS: the namespace is the path's; a query naming another one is refused. */
  namespaceInPath(action: RequiredAction, namespace: string): PermissionCheck | PermissionRefusal {
    if (!namespace) return refuse(`${this.method} /system/namespace/ must name the namespace in the path`);
    return this.otherPlaceAgrees(namespace) ?? check(action, namespace, '*');
  }

  /** POST /system/namespace/[NS] with body {"name": NS}: faas-netes creates the body's namespace. */
  createNamespace(pathNamespace: string): BodyPermission | PermissionRefusal {
    const conflict = pathNamespace ? this.otherPlaceAgrees(pathNamespace) : undefined;
    if (conflict) return conflict;
    return {
      kind: 'body',
      action: 'Namespace:Create',
      field: 'name',
      decide: (body) => {
        const fields = readJsonFields(body, ['name']);
        if (!fields.ok) return refuse(fields.message);
        const name = fields.values.get('name');
        if (!name) return refuse('the request body must name the namespace in "name"');
        if (pathNamespace && pathNamespace !== name) {
          return refuse(`the path names namespace ${quote(pathNamespace)} but the body's "name" is ${quote(name)}`);
        }
        return this.otherPlaceAgrees(name) ?? check('Namespace:Create', name, '*');
      },
    };
  }

  /**
   * A route whose target is named in the body (`field`) and whose namespace faas-netes reads from
   * `namespaceFrom`; the other place may repeat the same namespace, never another one.
   */
  fromBody(
    action: RequiredAction,
    field: string,
    what: string,
    namespaceFrom: 'body' | 'query',
  ): BodyPermission | PermissionRefusal {
    const query = readQuery(this.rawQuery, [NAMESPACE]);
    if (!(query instanceof Map)) return query;
    const queryNamespace = single(query, NAMESPACE);
    if (typeof queryNamespace === 'object') return queryNamespace;
    return {
      kind: 'body',
      action,
      field,
      decide: (body) => {
        const fields = readJsonFields(body, [field, NAMESPACE]);
        if (!fields.ok) return refuse(fields.message);
        const name = fields.values.get(field);
        if (!name) return refuse(`the request body must name the ${what} in "${field}"`);
        const bodyNamespace = fields.values.get(NAMESPACE);
        const namespace = (namespaceFrom === 'body' ? bodyNamespace : queryNamespace) || this.defaultNamespace;
        const other = namespaceFrom === 'body' ? queryNamespace : bodyNamespace;
        if (other && other !== namespace) {
          const read = namespaceFrom === 'body' ? bodyNamespace : queryNamespace;
          const otherPlace = namespaceFrom === 'body' ? 'query' : 'body';
          const says = read ? `names ${quote(read)}` : `names none (so ${quote(namespace)})`;
          return refuse(`the ${otherPlace} names namespace ${quote(other)} but OpenFaaS reads it from the ${namespaceFrom}, which ${says}`);
        }
        return check(action, namespace, name);
      },
    };
  }

  /** A `namespace` query parameter on a route that reads the namespace elsewhere must agree with it. */
  private otherPlaceAgrees(namespace: string): PermissionRefusal | undefined {
    const query = readQuery(this.rawQuery, [NAMESPACE]);
    if (!(query instanceof Map)) return query;
    const queryNamespace = single(query, NAMESPACE);
    if (typeof queryNamespace === 'object') return queryNamespace;
    if (queryNamespace && queryNamespace !== namespace) {
      return refuse(`the query names namespace ${quote(queryNamespace)} but the request acts on namespace ${quote(namespace)}`);
    }
    return undefined;
  }
}

/** /function/NAME[.NS]/…: the first segment, split at its last dot, as faas-netes resolves it. */
function classifyInvocation(rest: string, defaultNamespace: string): PermissionCheck | PermissionRefusal {
  const slash = rest.indexOf('/');
  const target = decodeSegment(slash === -1 ? rest : rest.slice(0, slash));
  if (typeof target === 'object') return target;
  if (!target) return refuse('the path must name the function to invoke');
  const dot = target.lastIndexOf('.');
  if (dot === -1) return check('Function:Invoke', defaultNamespace, target);
  const name = target.slice(0, dot);
  const namespace = target.slice(dot + 1);
  if (!name || !namespace) return refuse(`${quote(target)} is not a function name: use NAME or NAME.NAMESPACE`);
  return check('Function:Invoke', namespace, name);
}

function check(action: RequiredAction, namespace: string, name: string): PermissionCheck {
  return { kind: 'check', action, resource: { namespace, name }, namespace, name, filtersNamespaces: false };
}

function everywhere(action: RequiredAction): PermissionCheck {
  return { kind: 'check', action, resource: '*', namespace: undefined, name: undefined, filtersNamespaces: false };
}

/** A caller's value inside a message: quoted, and cut short so a refusal stays one readable line. */
function quote(value: string): string {
  const QUOTED_MAX = 64;
  return JSON.stringify(value.length > QUOTED_MAX ? `${value.slice(0, QUOTED_MAX)}…` : value);
}

function refuse(message: string): PermissionRefusal {
  return { kind: 'refuse', message };
}

function decodeSegments(path: string): string[] | PermissionRefusal {
  const segments: string[] = [];
  for (const raw of path.split('/')) {
    const segment = decodeSegment(raw);
    if (typeof segment === 'object') return segment;
    segments.push(segment);
  }
  return segments;
}

function decodeSegment(raw: string): string | PermissionRefusal {
  if (!raw.includes('%')) return raw;
  let segment: string;
  try {
    segment = decodeURIComponent(raw);
  } catch {
    return refuse('the path is not validly percent-encoded');
  }
  // A router that decodes before splitting would see more segments than were checked.
  return segment.includes('/') ? refuse('the path must not contain encoded slashes') : segment;
}

/**
 * The values of `keys` in the query, as Go's url.ParseQuery (which faas-netes uses) finds them:
 * pairs split on `&`, keys and values percent-decoded with `+` as a space. Go skips a pair holding
 * `;` or a malformed escape; when such a pair might have been one of `keys`, the request is
 * refused rather than guessed.
 */
function readQuery(rawQuery: string, keys: readonly string[]): Map<string, string[]> | PermissionRefusal {
  const found = new Map<string, string[]>();
  if (!rawQuery) return found;
  const pairs = rawQuery.split('&');
  if (pairs.length > MAX_QUERY_PARAMETERS) return refuse(`the query has more than ${MAX_QUERY_PARAMETERS} parameters`);
  for (const pair of pairs) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const key = pair.includes(';') ? MALFORMED : queryUnescape(eq === -1 ? pair : pair.slice(0, eq));
    if (key === MALFORMED || key === NOT_UTF8) {
      if (mightBeOneOf(pair, keys)) {
        return refuse('the query has a parameter that is not validly encoded (or uses ";") and may name the namespace');
      }
      continue;
    }
    if (!keys.includes(key)) continue;
    const value = eq === -1 ? '' : queryUnescape(pair.slice(eq + 1));
    if (value === MALFORMED || value === NOT_UTF8) return refuse(`the "${key}" query parameter is not validly encoded`);
    const values = found.get(key);
    if (values) values.push(value);
    else found.set(key, [value]);
  }
  return found;
}

/** The one value of a query parameter (url.Values.Get takes the first); several different ones are refused. */
function single(query: Map<string, string[]>, key: string): string | undefined | PermissionRefusal {
  const values = query.get(key);
  if (!values) return undefined;
  for (const value of values) {
    if (value !== values[0]) return refuse(`the "${key}" query parameter is given more than once, with different values`);
  }
  return values[0];
}

const MALFORMED = Symbol('malformed');
const NOT_UTF8 = Symbol('not UTF-8');
const BAD_ESCAPE = /%(?![0-9a-fA-F]{2})/;

/** Go's url.QueryUnescape; text Go would keep as bytes that are not UTF-8 is reported as such. */
function queryUnescape(text: string): string | typeof MALFORMED | typeof NOT_UTF8 {
  if (!text.includes('%')) return text.includes('+') ? text.replaceAll('+', ' ') : text;
  if (BAD_ESCAPE.test(text)) return MALFORMED;
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return NOT_UTF8;
  }
}

/** Whether a pair Go would skip could spell one of `keys`, decoding what can be decoded. */
function mightBeOneOf(pair: string, keys: readonly string[]): boolean {
  const lenient = pair
    .replaceAll('+', ' ')
    .replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    .toLowerCase();
  return keys.some((key) => lenient.includes(key));
}

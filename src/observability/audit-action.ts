/** A state-changing call, named as OpenFaaS IAM names actions. */
export interface AuditAction {
  readonly action: string;
  /** Where the target's name is: a path segment, or a field of the JSON body. */
  readonly nameFromPath: string | undefined;
  readonly bodyFields: readonly string[] | undefined;
}

const WRITE = new Map<string, string>([
  ['POST', 'Create'],
  ['PUT', 'Update'],
  ['DELETE', 'Delete'],
]);

/** Classifies a request; undefined for reads, which are not audited. */
export function auditActionOf(method: string | undefined, url: string): AuditAction | undefined {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const verb = WRITE.get(method ?? '');
  if (path.startsWith('/function/') || path.startsWith('/async-function/')) {
    const target = path.split('/')[2] ?? '';
    return { action: 'Function:Invoke', nameFromPath: decodeSafe(target), bodyFields: undefined };
  }
  if (!verb) return undefined;
  if (path === '/system/functions') {
    return { action: `Function:${verb}`, nameFromPath: undefined, bodyFields: ['service', 'functionName'] };
  }
  if (path === '/system/secrets') {
    return { action: `Secret:${verb}`, nameFromPath: undefined, bodyFields: ['name'] };
  }
  if (method === 'POST' && path.startsWith('/system/scale-function/')) {
    return { action: 'Function:Scale', nameFromPath: decodeSafe(path.slice('/system/scale-function/'.length)), bodyFields: ['serviceName'] };
  }
  if (path.startsWith('/system/namespace/')) {
    return { action: `Namespace:${verb}`, nameFromPath: decodeSafe(path.slice('/system/namespace/'.length)), bodyFields: undefined };
  }
  return undefined;
}

function decodeSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

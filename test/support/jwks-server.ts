import { IncomingMessage, ServerResponse } from 'node:http';
import { AsymmetricAlgorithm, SigningKey, generateSigningKey } from './keys';
import { LoopbackServer, holdResponse, sendJson, sendText, splitTarget } from './loopback-server';
import { nowSeconds, signCompact } from './tokens';

export type JwksMode = 'ok' | 'down' | 'refuse' | 'garbage' | 'slow' | 'huge';

export interface JwksModeOptions {
  /** How long 'slow' holds a response before answering normally; default 5000. */
  slowMs?: number;
  /** Size of the (valid JSON) body 'huge' streams; default 8 MiB. */
  hugeBytes?: number;
  /** Which documents the mode applies to; default both. */
  routes?: 'all' | 'jwks' | 'discovery';
}

/**
 * A controllable OIDC issuer for key-lifecycle tests: discovery plus a JWKS whose keys, availability
 * and misbehaviour the test decides, with fetch counters.
 */
export class JwksServer {
  jwksFetches = 0;
  discoveryFetches = 0;
  private readonly entries: Array<{ jwk: object; key?: SigningKey }> = [];
  private mode: JwksMode = 'ok';
  private modeOptions: Required<JwksModeOptions> = { slowMs: 5000, hugeBytes: 8 * 1024 * 1024, routes: 'all' };
  private discoveryExtra: Record<string, unknown> = {};
  private server!: LoopbackServer;

  static async start(opts: { port?: number } = {}): Promise<JwksServer> {
    const jwks = new JwksServer();
    jwks.server = await LoopbackServer.start((req, res) => jwks.handle(req, res), opts.port);
    return jwks;
  }

  /** The issuer identifier: the base URL, no trailing slash. */
  get issuer(): string {
    return this.server.url;
  }

  get jwksUri(): string {
    return `${this.issuer}/jwks`;
  }

  get discoveryUrl(): string {
    return `${this.issuer}/.well-known/openid-configuration`;
  }

  get port(): number {
    return this.server.port;
  }

  /** Generates and publishes a key (default RS256, random kid, use 'sig'; `use: null` omits `use`). */
  addKey(opts: { alg?: AsymmetricAlgorithm; kid?: string; use?: string | null } = {}): SigningKey {
    const key = generateSigningKey(opts.alg ?? 'RS256', { kid: opts.kid, use: opts.use });
    this.entries.push({ jwk: key.publicJwk, key });
    return key;
  }

  /** Unpublishes every entry with this kid. */
  removeKey(kid: string): void {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if ((this.entries[i]?.jwk as { kid?: unknown }).kid === kid) this.entries.splice(i, 1);
    }
  }

  /** Publishes an arbitrary JWKS entry verbatim (an `oct` key, a malformed entry, ...). */
  addRawJwk(jwk: object): void {
    this.entries.push({ jwk });
  }

  /** The published JWKS document. */
  jwks(): { keys: object[] } {
    return { keys: this.entries.map((e) => e.jwk) };
  }

  /** Adds or overrides fields of the discovery document (e.g. a mismatching `issuer`). */
  setDiscovery(extra: Record<string, unknown>): void {
    this.discoveryExtra = { ...extra };
  }

  setMode(mode: JwksMode, opts: JwksModeOptions = {}): void {
    this.mode = mode;
    this.modeOptions = { slowMs: opts.slowMs ?? 5000, hugeBytes: opts.hugeBytes ?? 8 * 1024 * 1024, routes: opts.routes ?? 'all' };
  }

  resetCounters(): void {
    this.jwksFetches = 0;
    this.discoveryFetches = 0;
  }

  /**
   * Signs a JWT with a published key (default: the first). Claims default to iss=issuer, iat=now,
   * exp=now+300; header to {alg, typ: 'JWT', kid}. Header fields given as undefined are left out.
   */
  sign(payload: object, opts: { kid?: string; header?: object } = {}): string {
    const signer = opts.kid === undefined ? this.entries.find((e) => e.key)?.key : this.entries.find((e) => e.key?.kid === opts.kid)?.key;
    if (!signer) throw new Error(opts.kid === undefined ? 'JwksServer has no key: call addKey() first' : `no key with kid ${opts.kid}`);
    const now = nowSeconds();
    return signCompact({
      header: { alg: signer.alg, typ: 'JWT', kid: signer.kid, ...opts.header },
      payload: { iss: this.issuer, iat: now, exp: now + 300, ...payload },
      key: signer.privateKey,
      alg: signer.alg,
    });
  }

  close(): Promise<void> {
    return this.server.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume();
    const { pathname } = splitTarget(req.url);
    if (pathname === '/jwks') {
      this.jwksFetches++;
      await this.answer(res, 'jwks', () => this.jwks());
    } else if (pathname === '/.well-known/openid-configuration') {
      this.discoveryFetches++;
      await this.answer(res, 'discovery', () => ({
        issuer: this.issuer,
        jwks_uri: this.jwksUri,
        response_types_supported: ['token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256', 'ES256'],
        ...this.discoveryExtra,
      }));
    } else {
      sendText(res, 404, 'not found');
    }
  }

  private async answer(res: ServerResponse, route: 'jwks' | 'discovery', document: () => object): Promise<void> {
    const { routes, slowMs, hugeBytes } = this.modeOptions;
    const mode = routes === 'all' || routes === route ? this.mode : 'ok';
    switch (mode) {
      case 'down':
        return sendText(res, 500, 'identity provider down');
      case 'refuse':
        res.socket?.destroy();
        return;
      case 'garbage':
        return sendText(res, 200, '{"keys": [ this is not json', { 'Content-Type': 'application/json' });
      case 'huge':
        return streamHugeJson(res, hugeBytes);
      case 'slow':
        if (!(await holdResponse(res, slowMs))) return;
        return sendJson(res, 200, document());
      case 'ok':
        return sendJson(res, 200, document());
    }
  }
}

/** Streams `{"keys":[],"padding":"xxx..."}` of about `bytes` bytes, chunked, respecting back-pressure. */
async function streamHugeJson(res: ServerResponse, bytes: number): Promise<void> {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  const chunk = Buffer.alloc(64 * 1024, 'x');
  res.write('{"keys":[],"padding":"');
  for (let sent = 0; sent < bytes && !res.destroyed; sent += chunk.length) {
    if (!res.write(chunk)) await drainedOrClosed(res);
  }
  res.end('"}');
}

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunningGateway } from '../../src/gateway';
import { HttpResponse, request } from '../support/http-client';
import { TestIdentityProvider } from '../support/identity-provider';
import { OpenFaasStandIn } from '../support/openfaas-stand-in';
import { waitUntil } from '../support/wait';
import { captureLines, Harness } from './harness';

/**
 * What the audit specs share: a gateway whose JSON log lines are captured (Harness.start boots it
 * silent), with a temp folder for the webhook key, and calls sent with a request id of their own.
 */
export interface Audited {
  readonly idp: TestIdentityProvider;
  readonly openfaas: OpenFaasStandIn;
  readonly gateway: RunningGateway;
  readonly lines: string[];
  readonly url: string;
  readonly metricsUrl: string;
  close(): Promise<void>;
}

/** `env` gets the temp folder (for the webhook key) and returns the gateway's extra variables. */
export async function startAudited(env: (dir: string) => Record<string, string>): Promise<Audited> {
  // The webhook key lives in a folder of its own, as the chart mounts it apart from basic-auth.
  const dir = mkdtempSync(join(tmpdir(), 'gateway-audit-'));
  const capture = captureLines();
  try {
    const h = await Harness.start({
      env: { shutdown_timeout: '1s', log_encoding: 'json', allow_invoke: 'true', ...env(dir) },
      logDestination: capture.destination,
      openfaas: { namespaces: ['team-a'] },
    });
    return {
      idp: h.idp,
      openfaas: h.openfaas,
      gateway: h.gateway,
      lines: capture.lines,
      url: h.url,
      metricsUrl: `http://127.0.0.1:${h.gateway.metricsPort}`,
      async close() {
        await h.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

export type Json = Record<string, unknown>;

export function auditEvents(g: Audited): Json[] {
  return g.lines.map((line) => JSON.parse(line) as Json).filter((r) => r.event === 'audit');
}

export function claimsOf(token: string): Json {
  return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as Json;
}

export interface Call {
  method: string;
  path: string;
  body?: unknown;
}

let counter = 0;

/** A request id no other call of the run has. */
export function newId(label: string): string {
  return `${label}-${++counter}-${randomBytes(4).toString('hex')}`;
}

/** Sends a call (faas-cli style JSON body) with a request id of its own; returns both. */
export async function send(g: Audited, call: Call, authorization: string | undefined): Promise<{ res: HttpResponse; id: string }> {
  const id = newId('audit');
  const headers: Record<string, string> = { 'x-request-id': id, 'user-agent': 'faas-cli/0.17.1' };
  if (authorization !== undefined) headers.authorization = authorization;
  let body: string | undefined;
  if (call.body !== undefined) {
    body = typeof call.body === 'string' ? call.body : JSON.stringify(call.body);
    headers['content-type'] = typeof call.body === 'string' ? 'text/plain' : 'application/json';
  }
  const res = await request(`${g.url}${call.path}`, { method: call.method, headers, body });
  return { res, id };
}

/** The access line of a request has been written, so its audit event (if any) has been too. */
export async function settled(g: Audited, id: string): Promise<void> {
  await waitUntil(() => g.lines.some((line) => line.includes(`"requestId":"${id}"`) && line.includes('"msg":"request"')), 5000, {
    message: `no access line for ${id}`,
  });
}

import { Agent as HttpAgent, ClientRequest } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { isIP } from 'node:net';

/** Where the pool connects to: all it needs to pick, or open, a connection to the OpenFaaS gateway. */
export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  /** The name TLS asks the server's certificate for (SNI); '' for an IP address, as node does. */
  readonly servername: string;
}

/** node:http's pool entry point, which ClientRequest calls, and the agent's own options; node's typings leave both out. */
type Pool = HttpAgent & { addRequest(req: ClientRequest, options: object): void; options: object };

/**
 * The keep-alive agent for the OpenFaaS gateway. node:http hands its pool (Agent.addRequest) the
 * whole option set of each request, which from http-proxy is some sixteen fields (host, port, ten
 * TLS fields, method, path, headers, agent, ...), and the pool copies them into a prototype-less
 * object, which V8 does property by property in its slow path, only to pick a pooled socket by
 * host and port: about 4 µs per request, 5% of the gateway's CPU per request (measured by toggling
 * it in one running gateway, against the bench floor). Here every request reaches the pool with
 * the same three connection options, worked out once from gateway_url; the request's own method,
 * path and headers travel with the request, not through these options.
 *
 * The pool also merges in the agent's own options (keepAlive, noDelay, ...) on every request. node
 * keeps them in an object made prototype-less by a literal, which V8 holds in dictionary mode and
 * copies in its slow path too (~2 µs more per request, 2-4%); the same fields in a prototype-less
 * object made by setPrototypeOf stay in V8's fast mode, and read the same.
 */
export function upstreamAgent(target: URL): HttpAgent {
  // Node's defaults otherwise (lifo, 256 free sockets).
  const agentOptions = { keepAlive: true, keepAliveMsecs: 15_000 };
  const agent = (target.protocol === 'https:' ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions)) as Pool;
  agent.options = Object.setPrototypeOf({ ...agent.options }, null) as object;
  const connection = connectionOptions(target);
  const addRequest = agent.addRequest;
  agent.addRequest = function (this: Pool, req: ClientRequest): void {
    addRequest.call(this, req, connection);
  };
  return agent;
}

/** host, port and servername for `target`, as node:http would work them out from http-proxy's options for each request. */
export function connectionOptions(target: URL): ConnectionOptions {
  // A WHATWG URL keeps an IPv6 literal in brackets; a socket wants it bare.
  const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
  const port = Number(target.port) || (target.protocol === 'https:' ? 443 : 80);
  // changeOrigin makes the Host header the target's, from which node would take the name per request.
  return Object.freeze({ host, port, servername: isIP(host) ? '' : host });
}

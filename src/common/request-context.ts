import type { IncomingMessage } from 'node:http';
import type { VerifiedToken } from '../auth/verified-token';
import type { GatewayError } from './gateway-error';

const CALLER = Symbol('request.caller');
const FAILURE = Symbol('request.failure');

type Tagged = IncomingMessage & { [CALLER]?: VerifiedToken; [FAILURE]?: GatewayError };

/** Notes who made a request, once their token has passed, for the access log and audit trail. */
export function setCaller(req: IncomingMessage, caller: VerifiedToken): void {
  (req as Tagged)[CALLER] = caller;
}

export function callerOf(req: IncomingMessage): VerifiedToken | undefined {
  return (req as Tagged)[CALLER];
}

/** Notes why a request was refused, for the access log and the metrics. */
export function setFailure(req: IncomingMessage, error: GatewayError): void {
  (req as Tagged)[FAILURE] = error;
}

export function failureOf(req: IncomingMessage): GatewayError | undefined {
  return (req as Tagged)[FAILURE];
}

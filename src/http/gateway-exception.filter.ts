import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, GatewayError, toErrorResponse } from '../common/gateway-error';
import { noteFailure } from '../observability/request-tracker.service';

const BY_STATUS: Record<number, ErrorCode> = { 400: 'bad_request', 401: 'invalid_token', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed', 413: 'payload_too_large', 415: 'bad_request' };

/** Turns anything thrown on a Nest route into the gateway's JSON error shape; 5xx never echo internals. */
export function toGatewayError(exception: unknown, req: IncomingMessage | undefined, logger: Logger): GatewayError {
  if (exception instanceof GatewayError) return exception;
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    if (status === 404) return new GatewayError('not_found', `No route for ${req?.method ?? 'this request'} ${req?.url?.split('?')[0] ?? ''}`.trimEnd() + '.');
    const code = BY_STATUS[status];
    if (code) return new GatewayError(code, exception.message.endsWith('.') ? exception.message : `${exception.message}.`);
  }
  logger.error(`unexpected error: ${(exception as Error)?.stack ?? String(exception)}`);
  return new GatewayError('internal', 'The gateway failed to handle this request.');
}

@Catch()
export class GatewayExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('GatewayExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): unknown {
    if (host.getType() !== 'http') return exception;
    const http = host.switchToHttp();
    const req = http.getRequest<IncomingMessage>();
    const res = http.getResponse<ServerResponse>();
    const error = toGatewayError(exception, req, this.logger);
    noteFailure(req, error);
    if (res.headersSent) {
      res.destroy();
      return undefined;
    }
    const { status, headers, body } = toErrorResponse(error);
    res.writeHead(status, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
    return undefined;
  }
}

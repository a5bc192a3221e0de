import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { consoleLine, createLogger, LogSettings, PinoNestLogger } from './logger';

/** A logger writing into an array, one entry per record as written. */
function capture(settings: Partial<LogSettings> = {}) {
  const lines: string[] = [];
  const logger = createLogger({ encoding: 'json', debug: false, ...settings }, { write: (line: string) => void lines.push(line) }).logger;
  return { logger, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe(consoleLine.name, () => {
  const time = Date.UTC(2024, 0, 2, 3, 4, 5, 678);

  it('writes time, level, [context], message, then key=value pairs on one line', () => {
    const line = consoleLine({ time, level: 30, msg: 'request', context: 'Proxy', requestId: 'r-1', status: 200, path: '/system/functions' });
    assert.equal(line, '2024-01-02T03:04:05.678Z INFO  [Proxy] request requestId=r-1 status=200 path=/system/functions\n');
  });

  it('names every pino level', () => {
    const names: Array<[number, string]> = [[10, 'TRACE'], [20, 'DEBUG'], [30, 'INFO'], [40, 'WARN'], [50, 'ERROR'], [60, 'FATAL']];
    for (const [level, name] of names) {
      assert.ok(consoleLine({ time, level, msg: 'm' }).startsWith(`2024-01-02T03:04:05.678Z ${name}`), name);
    }
  });

  it('quotes values with spaces, writes objects as JSON, and leaves out pid, hostname and undefined values', () => {
    const line = consoleLine({ time, level: 40, msg: 'm', pid: 42, hostname: 'box', note: 'two words', nested: { a: 1 }, gone: undefined });
    assert.equal(line, '2024-01-02T03:04:05.678Z WARN  m note="two words" nested={"a":1}\n');
  });

  it('keeps a record on one line even when a value or the message has line breaks', () => {
    const fromValue = consoleLine({ time, level: 50, msg: 'failed', stack: 'Error: x\n    at f (a.js:1:1)' });
    assert.equal(fromValue.indexOf('\n'), fromValue.length - 1, JSON.stringify(fromValue));
    // Messages built from an error's stack (e.g. "unexpected error: <stack>") are single records too.
    const fromMessage = consoleLine({ time, level: 50, msg: 'unexpected error: Error: x\n    at f (a.js:1:1)' });
    assert.equal(fromMessage.indexOf('\n'), fromMessage.length - 1, `one line per record: ${JSON.stringify(fromMessage)}`);
  });
});

describe(createLogger.name, () => {
  it('json: one JSON object per line with an ISO time, a level name and msg, no pid or hostname', () => {
    const { logger, lines, records } = capture();
    logger.info({ requestId: 'r-1', status: 200 }, 'request');
    assert.equal(lines.length, 1);
    assert.ok((lines[0] as string).endsWith('\n') && (lines[0] as string).indexOf('\n') === (lines[0] as string).length - 1);
    const [record] = records();
    assert.equal(record?.level, 'info');
    assert.match(String(record?.time), ISO_TIME);
    assert.equal(record?.msg, 'request');
    assert.equal(record?.requestId, 'r-1');
    assert.equal(record?.status, 200);
    assert.equal('pid' in (record ?? {}), false);
    assert.equal('hostname' in (record ?? {}), false);
  });

  it('console: readable lines that start with an ISO time and the level', () => {
    const lines: string[] = [];
    const logger = createLogger({ encoding: 'console', debug: false }, { write: (line: string) => void lines.push(line) }).logger;
    logger.warn({ requestId: 'r-2' }, 'slow');
    assert.equal(lines.length, 1);
    assert.match(lines[0] as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN +slow requestId=r-2\n$/);
  });

  it('debug records only with debug=true', () => {
    const quiet = capture({ debug: false });
    quiet.logger.debug('hidden');
    quiet.logger.info('shown');
    assert.deepEqual(quiet.records().map((r) => r.msg), ['shown']);
    const verbose = capture({ debug: true });
    verbose.logger.debug('detail');
    assert.deepEqual(verbose.records().map((r) => [r.level, r.msg]), [['debug', 'detail']]);
  });

  const SECRETS = { authorization: 'Bearer eyJ.top.sig', password: 'hunter2-top', token: 'tok-top' };

  for (const encoding of ['json', 'console'] as const) {
    it(`${encoding}: authorization, password and token fields are redacted, at the top and one level down`, () => {
      const lines: string[] = [];
      const logger = createLogger({ encoding, debug: true }, { write: (line: string) => void lines.push(line) }).logger;
      logger.info(
        {
          ...SECRETS,
          headers: { authorization: 'Basic YWRtaW46aHVudGVyMg==' },
          req: { headers: { authorization: 'Bearer eyJ.req.sig' } },
          upstream: { password: 'hunter2-nested', token: 'tok-nested', authorization: 'Bearer eyJ.nested.sig' },
          keep: 'visible-value',
        },
        'with secrets',
      );
      assert.equal(lines.length, 1);
      const line = lines[0] as string;
      for (const secret of ['eyJ.top.sig', 'hunter2-top', 'tok-top', 'YWRtaW46aHVudGVyMg==', 'eyJ.req.sig', 'hunter2-nested', 'tok-nested', 'eyJ.nested.sig']) {
        assert.ok(!line.includes(secret), `${secret} is logged: ${line}`);
      }
      assert.ok(line.includes('visible-value'), 'other fields are kept');
      assert.ok(line.includes('[redacted]'), 'redacted fields say so');
      if (encoding === 'json') {
        const record = JSON.parse(line) as Record<string, any>;
        assert.equal(record.authorization, '[redacted]');
        assert.equal(record.password, '[redacted]');
        assert.equal(record.token, '[redacted]');
        assert.equal(record.headers.authorization, '[redacted]');
        assert.equal(record.upstream.token, '[redacted]');
      }
    });
  }

  it('redacts those fields wherever they appear, also deeper than one level', () => {
    const { logger, lines } = capture();
    logger.info({ upstream: { request: { headers: { authorization: 'Basic ZGVlcDpzZWNyZXQ=' } } }, call: { auth: { token: 'tok-deep' } } }, 'deep');
    assert.ok(!(lines[0] as string).includes('ZGVlcDpzZWNyZXQ='), `a nested authorization is logged: ${lines[0]}`);
    assert.ok(!(lines[0] as string).includes('tok-deep'), `a nested token is logged: ${lines[0]}`);
  });
});

describe(PinoNestLogger.name, () => {
  it('maps Nest levels and contexts onto pino records', () => {
    const { logger, records } = capture({ debug: true });
    const nest = new PinoNestLogger(logger);
    nest.log('started', 'NestFactory');
    nest.warn('careful', 'Proxy');
    nest.debug('detail', 'Keys');
    nest.fatal('gone', 'Main');
    assert.deepEqual(
      records().map((r) => [r.level, r.context, r.msg]),
      [
        ['info', 'NestFactory', 'started'],
        ['warn', 'Proxy', 'careful'],
        ['debug', 'Keys', 'detail'],
        ['fatal', 'Main', 'gone'],
      ],
    );
  });

  it("error(message, stack, context) keeps the stack in its own field; error(message, context) has none", () => {
    const { logger, records } = capture();
    const nest = new PinoNestLogger(logger);
    nest.error('boom', 'Error: boom\n    at x (y.js:1:1)', 'Filter');
    nest.error('plain', 'Filter');
    // What Nest's Logger passes for `new Logger('Ctx').error('msg')`.
    nest.error('from instance', undefined, 'Ctx');
    const [withStack, plain, instance] = records();
    assert.deepEqual([withStack?.level, withStack?.context, withStack?.msg], ['error', 'Filter', 'boom']);
    assert.match(String(withStack?.stack), /at x \(y\.js/);
    assert.deepEqual([plain?.context, plain?.msg, plain?.stack], ['Filter', 'plain', undefined]);
    assert.deepEqual([instance?.context, instance?.msg, instance?.stack], ['Ctx', 'from instance', undefined]);
  });

  it('logs an Error by its message', () => {
    const { logger, records } = capture();
    new PinoNestLogger(logger).log(new Error('went wrong'), 'X');
    assert.equal(records()[0]?.msg, 'went wrong');
  });

  it('an object handed to the Nest logger is redacted like any other record', () => {
    const { logger, lines } = capture();
    new PinoNestLogger(logger).log({ event: 'login', token: 'tok-in-object', password: 'pw-in-object' }, 'Auth');
    assert.ok(!(lines[0] as string).includes('tok-in-object'), `a token is logged: ${lines[0]}`);
    assert.ok(!(lines[0] as string).includes('pw-in-object'), `a password is logged: ${lines[0]}`);
  });
});

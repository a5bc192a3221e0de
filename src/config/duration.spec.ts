import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from './duration';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

describe(parseDuration.name, () => {
  // contract.md: "Durations take whole seconds (`60`) or Go-style durations (`1m05s`, `500ms`), as OpenFaaS does."
  const valid: Array<[string, number]> = [
    ['60', 60 * SECOND],
    ['0', 0],
    ['65', 65 * SECOND],
    ['1m05s', MINUTE + 5 * SECOND],
    ['1m5s', MINUTE + 5 * SECOND],
    ['500ms', 500],
    ['30s', 30 * SECOND],
    ['5m', 5 * MINUTE],
    ['2h', 2 * HOUR],
    ['1h2m3s', HOUR + 2 * MINUTE + 3 * SECOND],
    ['1h30m', HOUR + 30 * MINUTE],
    ['1.5s', 1500],
    ['1.5h', HOUR + 30 * MINUTE],
    ['1s500ms', 1500],
    ['2000000us', 2 * SECOND],
    ['3000000000ns', 3 * SECOND],
  ];
  for (const [text, ms] of valid) {
    it(`reads "${text}" as ${ms} ms`, () => {
      assert.equal(parseDuration(text), ms);
    });
  }

  it('ignores surrounding whitespace (environment values are trimmed)', () => {
    assert.equal(parseDuration(' 30s '), 30 * SECOND);
    assert.equal(parseDuration('\t60\n'), 60 * SECOND);
  });

  const invalid = ['', ' ', 'abc', 'soon', '1d', '1w', '5 s', '1m 5s', '1m5', '1.5', 's', 'ms', '1S', '1M', '0x10', '1e3', '60sec', '١٠'];
  for (const text of invalid) {
    it(`refuses ${JSON.stringify(text)} (neither whole seconds nor a Go duration)`, () => {
      assert.equal(parseDuration(text), undefined);
    });
  }
});

describe(formatDuration.name, () => {
  it('renders sub-second values in milliseconds', () => {
    assert.equal(formatDuration(450), '450ms');
    assert.equal(formatDuration(0), '0ms');
  });

  it('renders whole units without empty parts', () => {
    assert.equal(formatDuration(3 * MINUTE + 12 * SECOND), '3m12s');
    assert.equal(formatDuration(MINUTE), '1m');
    assert.equal(formatDuration(2 * HOUR), '2h');
    assert.equal(formatDuration(HOUR + 2 * MINUTE + 3 * SECOND), '1h2m3s');
    assert.equal(formatDuration(45 * SECOND), '45s');
  });

  it('renders a value that parseDuration reads back to the same milliseconds', () => {
    for (const ms of [SECOND, 65 * SECOND, 3723 * SECOND, 30 * SECOND, 5 * MINUTE, 250]) {
      assert.equal(parseDuration(formatDuration(ms)), ms, `round trip of ${ms} ms via ${formatDuration(ms)}`);
    }
  });
});

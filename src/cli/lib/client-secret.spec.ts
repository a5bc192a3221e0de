import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandHome, readClientSecret, scrubSecret } from './client-secret';
import { FedgwError } from './fedgw-error';

describe('readClientSecret', () => {
  const home = mkdtempSync(join(tmpdir(), 'client-secret-spec-'));
  after(() => rmSync(home, { recursive: true, force: true }));
  const env = { HOME: home, PATH: '/usr/bin:/bin', VENDOR_SECRET: '\tfrom-env \n' };

  it('reads a file, ~ meaning the home folder, trimmed', async () => {
    mkdirSync(join(home, 'secrets'));
    writeFileSync(join(home, 'secrets', 'a'), '  from-file\r\n');
    assert.equal(expandHome('~/secrets/a', home), join(home, 'secrets', 'a'));
    assert.equal(await readClientSecret({ file: '~/secrets/a' }, { env }), 'from-file');
  });

  it('reads an environment variable, trimmed', async () => {
    assert.equal(await readClientSecret({ env: 'VENDOR_SECRET' }, { env }), 'from-env');
  });

  it("runs a command through /bin/sh -c; its stdout, trimmed, is the secret", async () => {
    assert.equal(await readClientSecret({ command: 'printf "  %s\\n" "$VENDOR_SECRET" | tr -d "\\t" ' }, { env }), 'from-env');
  });

  it('a failing command is an error that shows none of its output', async () => {
    await assert.rejects(readClientSecret({ command: 'echo leaked-value; exit 4' }, { env }), (err: unknown) => {
      assert.ok(err instanceof FedgwError);
      assert.equal(err.kind, 'secret');
      assert.match(err.message, /clientSecretCommand exited with code 4/);
      assert.ok(!err.message.includes('leaked-value'));
      return true;
    });
  });

  it('a missing file, an unset variable and an empty secret are named errors', async () => {
    await assert.rejects(readClientSecret({ file: '~/nope' }, { env }), /clientSecretFile .*nope cannot be read \(ENOENT\)/);
    await assert.rejects(readClientSecret({ env: 'UNSET_ONE' }, { env }), /environment variable UNSET_ONE is not set/);
    await assert.rejects(readClientSecret({ command: 'printf "  \\n"' }, { env }), /the client secret from clientSecretCommand is empty/);
  });
});

describe('scrubSecret', () => {
  it('removes the secret as given and as a form body encodes it', () => {
    const secret = 'p@ss word+/=';
    const text = `a ${secret} b ${encodeURIComponent(secret)} c ${new URLSearchParams({ s: secret }).toString().slice(2)}`;
    const scrubbed = scrubSecret(text, secret);
    assert.equal(scrubbed, 'a [redacted] b [redacted] c [redacted]');
  });
});

import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UpstreamCredentialsService } from '../../src/openfaas/upstream-credentials.service';
import { request } from '../support/http-client';
import { sleep } from '../support/wait';
import { ADMIN_PASSWORD, ADMIN_USER, Harness } from './harness';

/** Time a changed secret may take to be noticed (inotify and a short debounce), far below the 10 s poll. */
const NOTICE_MS = 500;
const FILES = ['basic-auth-user', 'basic-auth-password'] as const;

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/**
 * Lays out the secret folder as the kubelet does and updates it the same way: the values live in a
 * timestamped folder, `..data` links to it, each key is a link into `..data`; an update writes a
 * new folder, links `..data_tmp` to it, renames that over `..data` (the atomic step) and then
 * removes the old folder.
 */
class KubeletSecretVolume {
  private current: string | undefined;
  private version = 0;

  constructor(private readonly dir: string) {}

  update(values: Record<(typeof FILES)[number], string>): void {
    const folder = `..2026_01_01_00_00_0${++this.version}.${process.pid}`;
    mkdirSync(join(this.dir, folder));
    for (const name of FILES) writeFileSync(join(this.dir, folder, name), values[name]);
    symlinkSync(folder, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    for (const name of FILES) {
      if (!lstatSync(join(this.dir, name)).isSymbolicLink()) {
        symlinkSync(join('..data', name), join(this.dir, `${name}.tmp`));
        renameSync(join(this.dir, `${name}.tmp`), join(this.dir, name));
      }
    }
    if (this.current) rmSync(join(this.dir, this.current), { recursive: true });
    this.current = folder;
  }
}

describe('upstream credentials: rotated secrets are used without a restart', () => {
  let h: Harness;
  let authorization: string;

  before(async () => {
    h = await Harness.start();
    authorization = `Bearer ${await h.token()}`;
  });
  after(() => h?.close());

  /** One request, no retry: it must succeed with exactly these credentials. */
  async function assertNextRequestUses(user: string, password: string): Promise<void> {
    h.openfaas.clearRequests();
    const res = await request(`${h.url}/system/functions`, { headers: { authorization } });
    assert.equal(res.status, 200, res.text);
    assert.equal(h.openfaas.requests[0].headers.authorization, basic(user, password));
    assert.ok(!res.text.includes(password));
  }

  it('a password file rewritten in place is used from the next request on', async () => {
    await assertNextRequestUses(ADMIN_USER, ADMIN_PASSWORD);
    h.openfaas.setCredentials(ADMIN_USER, 'rewritten-in-place-1');
    writeFileSync(join(h.secretsDir, 'basic-auth-password'), 'rewritten-in-place-1\n');
    await sleep(NOTICE_MS);
    await assertNextRequestUses(ADMIN_USER, 'rewritten-in-place-1');
  });

  it('a Kubernetes secret update (the ..data symlink swap) is used from the next request on, every time', async () => {
    const volume = new KubeletSecretVolume(h.secretsDir);
    for (const [user, password] of [
      ['admin', 'kubelet-rotation-1'],
      ['admin', 'kubelet-rotation-2'],
      ['operator', 'kubelet-rotation-3'],
    ]) {
      h.openfaas.setCredentials(user, password);
      volume.update({ 'basic-auth-user': `${user}\n`, 'basic-auth-password': `${password}\n` });
      await sleep(NOTICE_MS);
      await assertNextRequestUses(user, password);
    }
  });

  it('an emptied secret keeps the previous credentials', async () => {
    const previous = { user: 'operator', password: 'kubelet-rotation-3' };
    const volume = new KubeletSecretVolume(h.secretsDir);
    volume.update({ 'basic-auth-user': `${previous.user}\n`, 'basic-auth-password': ' \n' });
    await sleep(NOTICE_MS);
    await assertNextRequestUses(previous.user, previous.password);
    volume.update({ 'basic-auth-user': `${ADMIN_USER}\n`, 'basic-auth-password': `${ADMIN_PASSWORD}\n` });
    h.openfaas.setCredentials(ADMIN_USER, ADMIN_PASSWORD);
    await sleep(NOTICE_MS);
    await assertNextRequestUses(ADMIN_USER, ADMIN_PASSWORD);
  });

  it('a rotation the watcher missed: after OpenFaaS refuses the old password once, the next request uses the new one', async () => {
    // As when the node has run out of inotify watches: no event, and the 10 s poll far away.
    h.gateway.app.get(UpstreamCredentialsService).onModuleDestroy();
    h.openfaas.setCredentials(ADMIN_USER, 'rotated-unnoticed');
    writeFileSync(join(h.secretsDir, 'basic-auth-password'), 'rotated-unnoticed\n');
    await sleep(NOTICE_MS);
    const refused = await request(`${h.url}/system/functions`, { headers: { authorization } });
    assert.equal(refused.status, 502);
    assert.equal(refused.json().error, 'upstream_error');
    assert.ok(!refused.text.includes('rotated-unnoticed') && !refused.text.includes(ADMIN_PASSWORD));
    await assertNextRequestUses(ADMIN_USER, 'rotated-unnoticed');
  });
});

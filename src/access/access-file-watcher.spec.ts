import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessDocument, AccessFileError } from './access-file';
import { AccessFileWatcher } from './access-file-watcher';
import { AccessPolicy } from './access-policy';

const file = (roleName: string, sub: string) => `apiVersion: iam.openfaas.com/v1
kind: Policy
metadata: { name: all }
spec: { statement: [{ sid: all, action: ["*"], effect: Allow, resource: ["*"] }] }
---
apiVersion: iam.openfaas.com/v1
kind: Role
metadata: { name: ${roleName} }
spec: { policy: [all], principal: { "jwt:sub": [${sub}] } }
`;

/**
 * Resolves with the next callback the watcher makes; its timeout also keeps the event loop alive
 * while the watcher's (unref'd) timer is the only thing left.
 */
function nextEvent(events: Array<(e: Event) => void>): Promise<Event> {
  return new Promise((resolve, reject) => {
    const timeout = setTimeout(() => reject(new Error('the watcher reported nothing within 5 s')), 5_000);
    events.push((event) => {
      clearTimeout(timeout);
      resolve(event);
    });
  });
}

type Event = { changed: AccessDocument; policy: AccessPolicy } | { rejected: AccessFileError };

describe(AccessFileWatcher.name, () => {
  let dir: string;
  let watcher: AccessFileWatcher | undefined;
  let waiting: Array<(e: Event) => void>;
  let events: Event[];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'access-watch-'));
    waiting = [];
    events = [];
  });
  afterEach(() => {
    watcher?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const watch = (path: string, intervalMs = 20) =>
    new AccessFileWatcher(path, {
      intervalMs,
      onChange: (changed, policy) => {
        events.push({ changed, policy });
        waiting.shift()?.({ changed, policy });
      },
      onRejected: (rejected) => {
        events.push({ rejected });
        waiting.shift()?.({ rejected });
      },
    });

  it('loads the file at once, and throws the AccessFileError of a broken one', () => {
    const path = join(dir, 'access.yaml');
    writeFileSync(path, file('admins', 'alice'));
    watcher = watch(path);
    assert.deepEqual(watcher.policy.grantsFor({ sub: 'alice' }).roles, ['admins']);
    writeFileSync(join(dir, 'broken.yaml'), 'kind: Role\n');
    assert.throws(() => watch(join(dir, 'broken.yaml')), AccessFileError);
    assert.throws(() => watch(join(dir, 'missing.yaml')), /does not exist/);
  });

  it('applies a changed file on its own, by polling', async () => {
    const path = join(dir, 'access.yaml');
    writeFileSync(path, file('admins', 'alice'));
    watcher = watch(path);
    const event = nextEvent(waiting);
    writeFileSync(path, file('operators', 'bob'));
    const changed = await event;
    assert.ok('changed' in changed);
    assert.deepEqual(changed.changed.roles.map((r) => r.name), ['operators']);
    assert.deepEqual(changed.policy.grantsFor({ sub: 'bob' }).roles, ['operators']);
    assert.equal(watcher.policy, changed.policy);
    assert.deepEqual(watcher.policy.grantsFor({ sub: 'alice' }).roles, []);
  });

  it('follows a ConfigMap-style ..data symlink swap', async () => {
    const write = (version: string, content: string) => {
      mkdirSync(join(dir, version));
      writeFileSync(join(dir, version, 'access.yaml'), content);
      symlinkSync(version, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    };
    write('v1', file('admins', 'alice'));
    symlinkSync(join('..data', 'access.yaml'), join(dir, 'access.yaml'));
    watcher = watch(join(dir, 'access.yaml'));
    const event = nextEvent(waiting);
    write('v2', file('operators', 'bob'));
    const changed = await event;
    assert.ok('changed' in changed, JSON.stringify(changed));
    assert.deepEqual(watcher.policy.grantsFor({ sub: 'bob' }).roles, ['operators']);
  });

  it('refuses a broken new version once, keeping the last good one, and takes the next good one', async () => {
    const path = join(dir, 'access.yaml');
    writeFileSync(path, file('admins', 'alice'));
    watcher = watch(path);
    const good = watcher.policy;
    const rejected = nextEvent(waiting);
    writeFileSync(path, file('admins', 'alice').replace('effect: Allow', 'effect: Deny'));
    const event = await rejected;
    assert.ok('rejected' in event);
    assert.match(event.rejected.message, /^invalid access file .*access\.yaml:\n {2}- Policy "all": spec\.statement\[0\]\.effect: must be Allow/);
    assert.equal(watcher.policy, good);
    // The first may be the look that reported; the second is a look of its own.
    await watcher.check();
    await watcher.check();
    assert.equal(events.length, 1, 'the same broken content is reported once');
    const changed = nextEvent(waiting);
    writeFileSync(path, file('operators', 'bob'));
    assert.ok('changed' in (await changed));
    assert.deepEqual(watcher.policy.grantsFor({ sub: 'bob' }).roles, ['operators']);
  });

  it('refuses a vanished file, keeping the last good one, and says nothing when the same version returns', async () => {
    const path = join(dir, 'access.yaml');
    writeFileSync(path, file('admins', 'alice'));
    watcher = watch(path);
    const good = watcher.policy;
    const rejected = nextEvent(waiting);
    unlinkSync(path);
    const event = await rejected;
    assert.ok('rejected' in event);
    assert.deepEqual(event.rejected.problems, ['does not exist; mount the access file there']);
    assert.equal(watcher.policy, good);
    // The first may be the look that reported; the second is a look of its own.
    await watcher.check();
    await watcher.check();
    assert.equal(events.length, 1, 'a file still missing is reported once');
    writeFileSync(path, file('admins', 'alice'));
    await watcher.check();
    assert.equal(events.length, 1);
    assert.equal(watcher.policy, good);
  });

  it('stops looking once closed', async () => {
    const path = join(dir, 'access.yaml');
    writeFileSync(path, file('admins', 'alice'));
    watcher = watch(path, 10);
    watcher.close();
    writeFileSync(path, file('operators', 'bob'));
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(events.length, 0);
    assert.deepEqual(watcher.policy.grantsFor({ sub: 'alice' }).roles, ['admins']);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Deadlined, DeadlineList } from './deadline-list';
import { waitUntil } from '../../test/support/wait';

interface Item extends Deadlined {
  readonly name: string;
}

const item = (name: string): Item => ({ name, deadline: 0, prev: undefined, next: undefined, waiting: false });

describe('DeadlineList', () => {
  it('expires items in the order they were added, each after the duration', async () => {
    const expired: Array<{ name: string; after: number }> = [];
    const started = performance.now();
    const list = new DeadlineList<Item>(40, (i) => expired.push({ name: i.name, after: performance.now() - started }));
    const [a, b, c] = [item('a'), item('b'), item('c')];
    list.add(a);
    await new Promise((resolve) => setTimeout(resolve, 15));
    list.add(b);
    list.add(c);
    assert.equal(list.size, 3);
    await waitUntil(() => expired.length === 3, 2000, { intervalMs: 5, message: 'not all expired' });
    assert.deepEqual(
      expired.map((e) => e.name),
      ['a', 'b', 'c'],
    );
    assert.ok(expired[0].after >= 39, `a expired after ${expired[0].after} ms, before its 40 ms`);
    assert.ok(expired[1].after >= 54, `b expired after ${expired[1].after} ms, before 15 + 40 ms`);
    assert.equal(list.size, 0);
    for (const i of [a, b, c]) assert.equal(i.waiting, false);
  });

  it('a removed item never expires, wherever it sat in the list, and the others still do', async () => {
    const expired: string[] = [];
    const list = new DeadlineList<Item>(30, (i) => expired.push(i.name));
    const items = ['head', 'middle', 'tail', 'last'].map(item);
    for (const i of items) list.add(i);
    list.remove(items[0]);
    list.remove(items[1]);
    list.remove(items[3]);
    list.remove(items[3]); // twice is harmless
    assert.equal(list.size, 1);
    await waitUntil(() => expired.length === 1, 2000, { intervalMs: 5, message: 'tail did not expire' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(expired, ['tail']);
  });

  it('adding an item again restarts its deadline', async () => {
    let now = 0;
    const expired: string[] = [];
    const list = new DeadlineList<Item>(100, (i) => expired.push(i.name), () => now);
    const a = item('a');
    list.add(a);
    assert.equal(a.deadline, 100);
    now = 60;
    list.add(a);
    assert.equal(a.deadline, 160);
    assert.equal(list.size, 1, 'one entry, not two');
    list.close();
  });

  it('close() stops the timer: nothing expires afterwards', async () => {
    const expired: string[] = [];
    const list = new DeadlineList<Item>(10, (i) => expired.push(i.name));
    list.add(item('a'));
    list.close();
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.deepEqual(expired, []);
  });
});

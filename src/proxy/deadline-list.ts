/** What the list keeps in each item: its deadline and its neighbours. */
export interface Deadlined {
  deadline: number;
  prev: Deadlined | undefined;
  next: Deadlined | undefined;
  /** Whether the item is in a list now. */
  waiting: boolean;
}

/**
 * Deadlines that all share one duration (upstream_timeout), so that the order items arrive in is
 * the order they expire in: a list linked through the items themselves, appended at the tail and
 * unlinked in O(1), with one timer for the head. Waiting for a response costs an exchange four
 * field writes instead of a Timeout object of its own in node's timer lists.
 */
export class DeadlineList<T extends Deadlined> {
  private head: T | undefined;
  private tail: T | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly durationMs: number,
    private readonly expired: (item: T) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Starts the item's deadline: durationMs from now. */
  add(item: T): void {
    if (item.waiting) this.remove(item);
    item.deadline = this.now() + this.durationMs;
    item.waiting = true;
    item.prev = this.tail;
    item.next = undefined;
    if (this.tail === undefined) this.head = item;
    else this.tail.next = item;
    this.tail = item;
    if (this.timer === undefined) this.arm(item.deadline);
  }

  /** Ends the item's deadline (its response came, or it went away); harmless when it has none. */
  remove(item: T): void {
    if (!item.waiting) return;
    item.waiting = false;
    const { prev, next } = item;
    if (prev === undefined) this.head = next as T | undefined;
    else prev.next = next;
    if (next === undefined) this.tail = prev as T | undefined;
    else next.prev = prev;
    item.prev = undefined;
    item.next = undefined;
  }

  /** Items waiting now (for tests and diagnostics; walks the list). */
  get size(): number {
    let n = 0;
    for (let item = this.head; item !== undefined; item = item.next as T | undefined) n++;
    return n;
  }

  /** Stops the timer; items left in the list never expire. */
  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.head = undefined;
    this.tail = undefined;
  }

  private arm(deadline: number): void {
    this.timer = setTimeout(() => this.fire(), Math.max(0, Math.ceil(deadline - this.now())));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    const now = this.now();
    // A timer may fire a hair early by this clock; what is within a millisecond is due.
    while (this.head !== undefined && this.head.deadline <= now + 1) {
      const item = this.head;
      this.remove(item);
      this.expired(item);
    }
    if (this.head !== undefined && this.timer === undefined) this.arm(this.head.deadline);
  }
}

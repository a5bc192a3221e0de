/** Bad usage or configuration (exit 2): every problem found, each on its own line. */
export class UsageError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'UsageError';
  }
}

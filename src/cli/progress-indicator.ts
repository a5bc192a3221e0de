import type { WriteStream } from 'node:tty';

interface Spinner {
  start(): Spinner;
  stop(): Spinner;
  text: string;
}

/**
 * A spinner on a terminal's stderr while clusters answer; nothing at all when stderr is not a
 * terminal or the output is JSON, so scripts and pipes only ever see the result.
 */
export class ProgressIndicator {
  private spinner?: Spinner;

  private constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly enabled: boolean,
  ) {}

  static for(stream: NodeJS.WriteStream, json: boolean): ProgressIndicator {
    return new ProgressIndicator(stream, !json && (stream as WriteStream).isTTY === true);
  }

  async start(text: string): Promise<void> {
    if (!this.enabled) return;
    // Loaded only on a terminal: yocto-spinner is ESM (required through require(esm), Node >= 20.19).
    const { default: yoctoSpinner } = await import('yocto-spinner');
    this.spinner = yoctoSpinner({ text, stream: this.stream }).start();
  }

  update(text: string): void {
    if (this.spinner) this.spinner.text = text;
  }

  stop(): void {
    this.spinner?.stop();
    this.spinner = undefined;
  }
}

import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { FSWatcher, watch } from 'node:fs';
import { join } from 'node:path';
import { GATEWAY_CONFIG } from '../config/config.module';
import { BASIC_AUTH_PASSWORD_FILE, BASIC_AUTH_USER_FILE, GatewayConfig, readSecretFile } from '../config/gateway-config';

const POLL_MS = 10_000;
const DEBOUNCE_MS = 25;
/** At most one re-read per this long when OpenFaaS refuses the credentials. */
const REFUSAL_RELOAD_MS = 1_000;

/**
 * The OpenFaaS admin credentials from the mounted basic-auth secret, as a ready-made
 * Authorization header. Kubernetes updates a mounted secret in place (a symlink swap in the
 * folder), so the folder is watched, and polled as a fallback: new values are used from the next
 * request on, without a restart. A half-written or emptied secret keeps the previous values.
 */
@Injectable()
export class UpstreamCredentialsService implements OnModuleDestroy {
  private readonly logger = new Logger(UpstreamCredentialsService.name);
  private readonly userFile: string;
  private readonly passwordFile: string;
  private header: string;
  private watcher: FSWatcher | undefined;
  private readonly poll: NodeJS.Timeout;
  private debounce: NodeJS.Timeout | undefined;
  private lastRefusalReload = 0;

  constructor(@Inject(GATEWAY_CONFIG) config: GatewayConfig) {
    this.userFile = join(config.secretMountPath, BASIC_AUTH_USER_FILE);
    this.passwordFile = join(config.secretMountPath, BASIC_AUTH_PASSWORD_FILE);
    this.header = this.read();
    try {
      this.watcher = watch(config.secretMountPath, { persistent: false }, () => this.scheduleReload());
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      this.watcher = undefined;
    }
    this.poll = setInterval(() => this.reload(), POLL_MS).unref();
  }

  /** `Basic base64(user:password)`, for the Authorization header of requests to OpenFaaS. */
  get authorization(): string {
    return this.header;
  }

  /** Re-reads the secret files now. */
  reload(): void {
    try {
      const next = this.read();
      if (next !== this.header) {
        this.header = next;
        this.logger.log('OpenFaaS admin credentials reloaded from the mounted secret');
      }
    } catch (err) {
      this.logger.warn(`keeping the previous OpenFaaS admin credentials: ${(err as Error).message}`);
    }
  }

  /**
   * OpenFaaS refused the credentials: they may have been rotated without the watcher noticing
   * (inotify watches exhausted, a missed event), so re-read them now, at most once a second.
   */
  reloadAfterRefusal(): void {
    const now = Date.now();
    if (now - this.lastRefusalReload < REFUSAL_RELOAD_MS) return;
    this.lastRefusalReload = now;
    this.reload();
  }

  onModuleDestroy(): void {
    clearInterval(this.poll);
    if (this.debounce) clearTimeout(this.debounce);
    this.watcher?.close();
  }

  private scheduleReload(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.reload(), DEBOUNCE_MS).unref();
  }

  private read(): string {
    const user = readSecretFile(this.userFile);
    const password = readSecretFile(this.passwordFile);
    return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }
}

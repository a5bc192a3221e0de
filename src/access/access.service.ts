import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { SigningKeysService } from '../auth/signing-keys.service';
import type { VerifiedToken } from '../auth/verified-token';
import { GATEWAY_CONFIG } from '../config/config.module';
import { accessIssuers, GatewayConfig } from '../config/gateway-config';
import { MetricsService } from '../observability/metrics.service';
import { AccessDocument } from './access-file';
import { AccessFileWatcher } from './access-file-watcher';
import { Grants } from './access-grants';
import { AccessPolicy } from './access-policy';

/**
 * Permissions in OpenFaaS IAM terms, from access_file. Without one, every valid token may use
 * every admitted route (grantsOf answers undefined). With one, a token holds the statements of
 * the Roles it matches, worked out once per verified token (the cache hands out the same
 * VerifiedToken object) and again only after the file changes. The file is re-read when it
 * changes: a broken version is refused with a log line and a metric, the last good one stays;
 * its JwtIssuers replace the accepted issuers (the environment's stays first).
 */
@Injectable()
export class AccessService implements OnModuleDestroy {
  private readonly logger = new Logger('Access');
  private policy: AccessPolicy | undefined;
  private grants = new WeakMap<VerifiedToken, Grants>();
  private readonly watcher: AccessFileWatcher | undefined;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly keys: SigningKeysService,
    private readonly metrics: MetricsService,
  ) {
    if (!config.accessFile || !config.access) {
      this.logger.log('no access_file: every valid token may use every admitted route');
      return;
    }
    this.policy = AccessPolicy.compile(config.access);
    this.logger.log(`permissions from ${config.accessFile}: ${describe(config.access)}`);
    // Seeded with the text the configuration checked: a version written since is a change, applied on the first look.
    this.watcher = new AccessFileWatcher(config.accessFile, {
      initialContent: config.accessContent,
      onChange: (document, policy) => this.use(document, policy),
      onRejected: (err) => this.reject(err.problems),
    });
  }

  /** Whether an access file is in force. */
  get enabled(): boolean {
    return this.policy !== undefined;
  }

  /** What a verified caller may do; undefined when no access file is in force (everything admitted). */
  grantsOf(caller: VerifiedToken): Grants | undefined {
    const policy = this.policy;
    if (policy === undefined) return undefined;
    let grants = this.grants.get(caller);
    if (grants === undefined) {
      grants = policy.grantsFor(caller.claims);
      this.grants.set(caller, grants);
    }
    return grants;
  }

  /** The grants of a token's claims, for diagnostics; undefined when no access file is in force. */
  grantsForClaims(claims: Readonly<Record<string, unknown>>): Grants | undefined {
    return this.policy?.grantsFor(claims);
  }

  /** Re-reads the file now (the watcher also does, every few seconds); resolves once applied or refused. */
  reload(): Promise<void> {
    return this.watcher?.check() ?? Promise.resolve();
  }

  onModuleDestroy(): void {
    this.watcher?.close();
  }

  private use(document: AccessDocument, policy: AccessPolicy): void {
    const issuers = accessIssuers(this.config.environmentIssuer, document, this.config.algorithms);
    if (typeof issuers === 'string') return this.reject([issuers]);
    if (issuers.length === 0) return this.reject(['accepts no issuer: add a JwtIssuer to it, or set issuer and audience']);
    this.keys.use(issuers);
    this.policy = policy;
    this.grants = new WeakMap();
    this.metrics.accessFileLoaded(true);
    this.logger.log(`access_file changed, now in force: ${describe(document)}`);
  }

  private reject(problems: readonly string[]): void {
    this.metrics.accessFileLoaded(false);
    this.logger.error(`access_file changed but cannot be used, keeping the last good version: ${problems.join('; ')}`);
  }
}

function describe(document: AccessDocument): string {
  return `${document.issuers.length} JwtIssuer(s), ${document.roles.length} Role(s), ${document.policies.length} Policy(ies)`;
}

import { Injectable } from '@nestjs/common';
import { clientIdOf, TokenVerifierService } from '../auth/token-verifier.service';
import { AccessService } from '../access/access.service';
import { TokenAccess } from './models/token-access.model';
import { TokenDiagnostics } from './models/token-diagnostics.model';

@Injectable()
export class TokenDiagnosticsService {
  constructor(
    private readonly verifier: TokenVerifierService,
    private readonly access: AccessService,
  ) {}

  /** The same verifier as the REST path, with every check run and reported. */
  async diagnose(token: string): Promise<TokenDiagnostics> {
    const diagnosis = await this.verifier.diagnose(token.trim());
    const claims = diagnosis.claims ?? {};
    const exp = typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp : undefined;
    const aud = claims.aud;
    return {
      valid: diagnosis.valid,
      reason: diagnosis.reason ?? null,
      description: diagnosis.description ?? null,
      checks: diagnosis.checks.map((c) => ({ ...c })),
      subject: typeof claims.sub === 'string' ? claims.sub : null,
      clientId: clientIdOf(claims) ?? null,
      issuer: typeof claims.iss === 'string' ? claims.iss : null,
      audiences: (Array.isArray(aud) ? aud : [aud]).filter((a): a is string => typeof a === 'string'),
      expiresAt: exp === undefined ? null : new Date(exp * 1000),
      expiresInSeconds: exp === undefined ? null : Math.round(exp - Date.now() / 1000),
      header: diagnosis.header ? { ...diagnosis.header } : null,
      claims: diagnosis.claims ? { ...diagnosis.claims } : null,
      access: diagnosis.valid ? this.accessOf(claims) : null,
    };
  }

  private accessOf(claims: Readonly<Record<string, unknown>>): TokenAccess {
    const grants = this.access.grantsForClaims(claims);
    if (grants === undefined) return { roles: [], actions: ['* on *'] };
    return { roles: [...grants.roles], actions: grants.describe() };
  }
}

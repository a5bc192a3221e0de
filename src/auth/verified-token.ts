/** What the gateway knows about a caller once its token has passed every check. */
export interface VerifiedToken {
  readonly subject: string | undefined;
  /** The calling client: azp, client_id, appid or cid, whichever the IdP uses. */
  readonly clientId: string | undefined;
  readonly issuer: string;
  readonly audiences: readonly string[];
  /** Seconds since the epoch. */
  readonly expiresAt: number;
  readonly kid: string | undefined;
  readonly claims: Readonly<Record<string, unknown>>;
}

/** One named check and its outcome, as tokenDiagnostics reports it. */
export interface TokenCheck {
  readonly name: string;
  readonly passed: boolean;
  readonly detail: string;
}

export interface TokenDiagnosis {
  readonly valid: boolean;
  /** The stable code of the first failed check, when invalid. */
  readonly reason: string | undefined;
  readonly description: string | undefined;
  readonly checks: readonly TokenCheck[];
  readonly header: Readonly<Record<string, unknown>> | undefined;
  readonly claims: Readonly<Record<string, unknown>> | undefined;
}

/** A request the global guard has let through: passport put its verified caller in `user`. */
export interface CallerRequest {
  readonly user: VerifiedToken;
}

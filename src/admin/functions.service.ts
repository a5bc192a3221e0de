import { Inject, Injectable } from '@nestjs/common';
import { forbidden } from '../access/access-grants';
import { AccessService } from '../access/access.service';
import { filterNamespaces } from '../access/request-permission';
import type { VerifiedToken } from '../auth/verified-token';
import { GATEWAY_CONFIG } from '../config/config.module';
import { GatewayConfig } from '../config/gateway-config';
import { OpenFaasClient } from '../openfaas/openfaas-client.service';
import { FunctionStatus } from '../openfaas/openfaas.types';
import { FunctionSummary } from './models/function-summary.model';

/**
 * Functions and namespaces as the caller may see them: everything without an access file; with
 * one, Function:List where it is held, and the namespaces the token holds any action in.
 */
@Injectable()
export class FunctionsService {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly openfaas: OpenFaasClient,
    private readonly access: AccessService,
  ) {}

  async list(caller: VerifiedToken, namespace?: string): Promise<FunctionSummary[]> {
    const grants = this.access.grantsOf(caller);
    if (grants === undefined) return (await this.openfaas.functions(namespace)).map(toSummary);
    if (namespace !== undefined) {
      if (!grants.allows('Function:List', namespace, '*')) throw forbidden(grants, 'Function:List', `${namespace}:*`);
      return (await this.openfaas.functions(namespace)).map(toSummary);
    }
    // No namespace named: every namespace the token may list functions in.
    const listable = grants.namespacesFor('Function:List');
    if (listable !== '*' && listable.size === 0) throw forbidden(grants, 'Function:List', `${this.config.defaultNamespace}:*`);
    // Only namespaces OpenFaaS has: one it does not know would fail the whole list.
    const existing = await this.openfaas.namespaces();
    const namespaces = listable === '*' ? existing : existing.filter((ns) => listable.has(ns));
    const lists = await Promise.all(namespaces.map((ns) => this.openfaas.functions(ns)));
    return lists.flat().map(toSummary);
  }

  async namespaces(caller: VerifiedToken): Promise<string[]> {
    const grants = this.access.grantsOf(caller);
    if (grants === undefined) return this.openfaas.namespaces();
    if (!grants.holdsAnywhere('Namespace:List')) throw forbidden(grants, 'Namespace:List', '*');
    return filterNamespaces(grants, await this.openfaas.namespaces());
  }
}

function toSummary(f: FunctionStatus): FunctionSummary {
  const created = f.createdAt ? new Date(f.createdAt) : undefined;
  return {
    name: f.name,
    namespace: f.namespace ?? null,
    image: f.image ?? null,
    replicas: numberOrNull(f.replicas),
    availableReplicas: numberOrNull(f.availableReplicas),
    invocationCount: numberOrNull(f.invocationCount),
    labels: f.labels ?? null,
    annotations: f.annotations ?? null,
    createdAt: created && !Number.isNaN(created.getTime()) ? created : null,
  };
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

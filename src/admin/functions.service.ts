import { Injectable } from '@nestjs/common';
import { OpenFaasClient } from '../openfaas/openfaas-client.service';
import { FunctionStatus } from '../openfaas/openfaas.types';
import { FunctionSummary } from './models/function-summary.model';

@Injectable()
export class FunctionsService {
  constructor(private readonly openfaas: OpenFaasClient) {}

  async list(namespace?: string): Promise<FunctionSummary[]> {
    const functions = await this.openfaas.functions(namespace);
    return functions.map(toSummary);
  }

  namespaces(): Promise<string[]> {
    return this.openfaas.namespaces();
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

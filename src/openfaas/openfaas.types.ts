/** The parts of the OpenFaaS gateway's REST answers that this gateway reads. */
export interface FunctionStatus {
  name: string;
  namespace?: string;
  image?: string;
  replicas?: number;
  availableReplicas?: number;
  invocationCount?: number;
  labels?: Record<string, string> | null;
  annotations?: Record<string, string> | null;
  createdAt?: string;
}

export interface SystemInfo {
  provider?: { provider?: string; orchestration?: string; version?: { sha?: string; release?: string } };
  version?: { sha?: string; release?: string; commit_message?: string };
  arch?: string;
}

export interface UpstreamHealth {
  healthy: boolean;
  latencyMs: number | undefined;
  error: string | undefined;
  checkedAt: Date;
}

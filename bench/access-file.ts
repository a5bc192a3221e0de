import { stringify } from 'yaml';

/**
 * An access file of `count` Policies and `count` Roles, as a vendor with many customers' clients
 * might write: each Role conditions on a client ID (Role i on client-i), and the last matches
 * the benchmark's client, granting System:Info (the benchmark's request) through its Policy.
 * Every request of the benchmark then works out its grants (once per token) and checks them.
 */
export function benchAccessFile(count: number, clientId: string): string {
  const objects: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const mine = i === count - 1;
    objects.push({
      apiVersion: 'iam.openfaas.com/v1',
      kind: 'Policy',
      metadata: { name: `policy-${i}` },
      spec: {
        statement: [
          { sid: 'read', action: ['Function:List', 'Function:Get', 'Function:Logs'], effect: 'Allow', resource: [`team-${i}:*`] },
          { sid: 'deploy', action: ['Function:Create', 'Function:Update', 'Function:Delete'], effect: 'Allow', resource: [`team-${i}:*`] },
          { sid: 'info', action: mine ? ['System:Info', 'Function:Invoke'] : ['Secret:List'], effect: 'Allow', resource: mine ? ['*'] : [`team-${i}:*`] },
        ],
      },
    });
    objects.push({
      apiVersion: 'iam.openfaas.com/v1',
      kind: 'Role',
      metadata: { name: `role-${i}` },
      spec: {
        policy: [`policy-${i}`],
        condition: {
          StringEqual: { 'jwt:client_id': [mine ? clientId : `client-${i}`] },
          StringLike: { 'jwt:iss': ['http*'] },
        },
      },
    });
  }
  return objects.map((o) => stringify(o)).join('---\n');
}

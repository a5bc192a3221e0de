import 'reflect-metadata';
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  buildSchema,
  GraphQLField,
  GraphQLObjectType,
  GraphQLSchema,
  isListType,
  isNonNullType,
  isObjectType,
  GraphQLOutputType,
} from 'graphql';
import { SCHEMA_FILE, servedSchema } from '../tools/served-schema';

/**
 * The drift test: the committed schema.gql is exactly what the real AppModule serves, and it
 * carries the queries and fields the contract (docs/contract.md, GraphQL section) promises.
 */

/** The Query block of the contract, verbatim in meaning: name, arguments, and printed type. */
const CONTRACT_QUERIES: Record<string, { type: string; args: Record<string, string> }> = {
  gatewayStatus: { type: 'GatewayStatus!', args: {} },
  tokenDiagnostics: { type: 'TokenDiagnostics!', args: { token: 'String!' } },
  functions: { type: '[FunctionSummary!]!', args: { namespace: 'String' } },
  namespaces: { type: '[String!]!', args: {} },
};

/** The field lists of the contract's comment block, by the type that carries them. */
const CONTRACT_FIELDS: Record<string, string[]> = {
  GatewayStatus: ['version', 'startedAt', 'uptimeSeconds', 'allowInvoke', 'upstream', 'issuer'],
  TokenDiagnostics: ['valid', 'reason', 'checks', 'subject', 'issuer', 'audiences', 'expiresAt', 'expiresInSeconds', 'header', 'claims'],
  FunctionSummary: ['name', 'namespace', 'image', 'replicas', 'availableReplicas', 'invocationCount', 'labels', 'annotations', 'createdAt'],
};

/** Nested selections of the contract: `upstream { ... }`, `issuer { ... }`, `keys { ... }`, `checks { ... }`. */
const CONTRACT_NESTED: Array<{ path: [string, ...string[]]; fields: string[] }> = [
  { path: ['GatewayStatus', 'upstream'], fields: ['url', 'healthy', 'latencyMs', 'provider', 'orchestration', 'version', 'error'] },
  { path: ['GatewayStatus', 'issuer'], fields: ['issuer', 'audiences', 'jwksUri', 'keys', 'lastRefreshedAt', 'lastError'] },
  { path: ['GatewayStatus', 'issuer', 'keys'], fields: ['kid', 'alg', 'kty'] },
  { path: ['TokenDiagnostics', 'checks'], fields: ['name', 'passed', 'detail'] },
];

function namedType(type: GraphQLOutputType): GraphQLOutputType {
  let t = type;
  while (isNonNullType(t) || isListType(t)) t = t.ofType as GraphQLOutputType;
  return t;
}

function objectType(schema: GraphQLSchema, name: string): GraphQLObjectType {
  const type = schema.getType(name);
  assert.ok(type, `schema.gql has no type ${name}`);
  assert.ok(isObjectType(type), `${name} is not an object type`);
  return type;
}

function field(type: GraphQLObjectType, name: string): GraphQLField<unknown, unknown> {
  const found = type.getFields()[name];
  assert.ok(found, `${type.name} has no field ${name}`);
  return found;
}

describe('GraphQL schema (schema.gql)', () => {
  let committed: string;
  let schema: GraphQLSchema;

  before(() => {
    committed = readFileSync(SCHEMA_FILE, 'utf8');
    schema = buildSchema(committed);
  });

  it('the committed schema.gql is byte for byte what the real AppModule serves (run `npm run schema` after changing resolvers)', async () => {
    const served = await servedSchema();
    // A readable first difference rather than two walls of SDL.
    if (served !== committed) {
      const a = served.split('\n');
      const b = committed.split('\n');
      const line = a.findIndex((l, i) => l !== b[i]);
      assert.fail(
        `schema.gql drifted from the code at line ${line + 1}:\n  served:    ${JSON.stringify(a[line])}\n  committed: ${JSON.stringify(b[line])}\n` +
          'Run `npm run schema` and commit schema.gql.',
      );
    }
    assert.equal(Buffer.compare(Buffer.from(served, 'utf8'), readFileSync(SCHEMA_FILE)), 0);
  });

  it('has the four contract queries with the contract types, arguments and a description each', () => {
    const query = schema.getQueryType();
    assert.ok(query, 'schema has no Query type');
    for (const [name, spec] of Object.entries(CONTRACT_QUERIES)) {
      const f = field(query, name);
      assert.equal(String(f.type), spec.type, `Query.${name} type`);
      const args = Object.fromEntries(f.args.map((a) => [a.name, String(a.type)]));
      assert.deepEqual(args, spec.args, `Query.${name} arguments`);
      assert.ok(f.description && f.description.trim().length > 10, `Query.${name} has no description`);
      for (const arg of f.args) assert.ok(arg.description?.trim(), `Query.${name}(${arg.name}) has no description`);
    }
  });

  it('has the read-only shape: no mutations or subscriptions', () => {
    assert.equal(schema.getMutationType(), undefined);
    assert.equal(schema.getSubscriptionType(), undefined);
  });

  it('carries every field the contract lists, under the contract names', () => {
    for (const [typeName, fields] of Object.entries(CONTRACT_FIELDS)) {
      const type = objectType(schema, typeName);
      for (const name of fields) field(type, name);
    }
    for (const { path, fields } of CONTRACT_NESTED) {
      const [root, ...steps] = path;
      let type = objectType(schema, root);
      for (const step of steps) {
        const next = namedType(field(type, step).type);
        assert.ok(isObjectType(next), `${type.name}.${step} is not an object type`);
        type = next;
      }
      for (const name of fields) field(type, name);
    }
  });

  it('types the contract fields sensibly: lists are non-null lists of non-null items, verdict and name fields non-null', () => {
    const diagnostics = objectType(schema, 'TokenDiagnostics');
    assert.equal(String(field(diagnostics, 'valid').type), 'Boolean!');
    assert.equal(String(field(diagnostics, 'checks').type), '[TokenCheck!]!');
    assert.equal(String(field(diagnostics, 'audiences').type), '[String!]!');
    const check = objectType(schema, 'TokenCheck');
    assert.equal(String(field(check, 'name').type), 'String!');
    assert.equal(String(field(check, 'passed').type), 'Boolean!');
    assert.equal(String(field(check, 'detail').type), 'String!');
    const status = objectType(schema, 'GatewayStatus');
    assert.equal(String(field(status, 'allowInvoke').type), 'Boolean!');
    assert.equal(String(field(status, 'upstream').type), 'UpstreamStatus!');
    assert.equal(String(field(status, 'issuer').type), 'IssuerStatus!');
    assert.equal(String(field(objectType(schema, 'UpstreamStatus'), 'healthy').type), 'Boolean!');
    assert.equal(String(field(objectType(schema, 'IssuerStatus'), 'keys').type), '[SigningKeyInfo!]!');
    assert.equal(String(field(objectType(schema, 'FunctionSummary'), 'name').type), 'String!');
  });

  it('describes every object type, and names no field after a secret', () => {
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || !isObjectType(type)) continue;
      if (type !== schema.getQueryType()) assert.ok(type.description?.trim(), `type ${type.name} has no description`);
      for (const name of Object.keys(type.getFields())) {
        assert.doesNotMatch(name, /password|secret|credential|private|basic/i, `${type.name}.${name} looks like a secret`);
      }
    }
  });
});

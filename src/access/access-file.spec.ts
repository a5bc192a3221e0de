import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessFileError, loadAccessFile, parseAccessFile } from './access-file';

// The contract's example, plus a per-namespace Policy and a principal.
const EXAMPLE = `
apiVersion: iam.openfaas.com/v1
kind: JwtIssuer
metadata: { name: vendor-keycloak, namespace: openfaas }
spec:
  iss: https://keycloak.example.com/realms/vendor
  aud: [customer-a-gateway]
  issInternal: http://keycloak.keycloak:8080/realms/vendor
  audienceClaims: [aud, azp]
  algorithms: [RS256]
  tokenExpiry: 12h
---
apiVersion: iam.openfaas.com/v1
kind: Policy
metadata: { name: read-only }
spec:
  statement:
    - sid: read
      action: ["Function:List", "Function:Get", "Function:Logs", "Secret:List", "Namespace:List", "System:Info"]
      effect: Allow
      resource: ["*"]
---
apiVersion: iam.openfaas.com/v1
kind: Policy
metadata: { name: dev-rw }
spec:
  statement:
    - sid: deploy
      action: ["Function:*"]
      effect: Allow
      resource: ["dev:*", "staging:echo"]
      condition:
        StringLike: { "jwt:azp": ["ci-*"] }
---
apiVersion: iam.openfaas.com/v1
kind: Role
metadata: { name: dashboards }
spec:
  policy: [read-only]
  condition:
    StringEqual: { "jwt:iss": ["https://keycloak.example.com/realms/vendor"] }
    ForAnyValue:StringEqual: { "jwt:scope": ["openfaas:read"] }
---
apiVersion: openfaas.com/v1
kind: Role
metadata: { name: deployers }
spec:
  policy: [dev-rw, read-only]
  principal: { "jwt:sub": ["github|1234"] }
---
`;

function problemsOf(text: string): readonly string[] {
  try {
    parseAccessFile(text, 'access.yaml');
  } catch (err) {
    assert.ok(err instanceof AccessFileError, String(err));
    assert.match(err.message, /^invalid access file access\.yaml:\n {2}- /);
    return err.problems;
  }
  assert.fail('the file was accepted');
}

const role = (name: string, spec: string) => `apiVersion: iam.openfaas.com/v1\nkind: Role\nmetadata: { name: ${name} }\nspec: ${spec}\n`;
const policy = (name: string, statement: string) =>
  `apiVersion: iam.openfaas.com/v1\nkind: Policy\nmetadata: { name: ${name} }\nspec: { statement: [${statement}] }\n`;
const ALL = '{ sid: all, action: ["*"], effect: Allow, resource: ["*"] }';

describe(parseAccessFile.name, () => {
  it('reads issuers, Roles (both apiVersions) and Policies of a multi-document YAML file', () => {
    const doc = parseAccessFile(EXAMPLE, 'access.yaml');
    assert.deepEqual(doc.issuers, [
      {
        name: 'vendor-keycloak',
        iss: 'https://keycloak.example.com/realms/vendor',
        aud: ['customer-a-gateway'],
        issInternal: 'http://keycloak.keycloak:8080/realms/vendor',
        audienceClaims: ['aud', 'azp'],
        algorithms: ['RS256'],
      },
    ]);
    assert.deepEqual(
      doc.roles.map((r) => [r.name, r.policies]),
      [
        ['dashboards', ['read-only']],
        ['deployers', ['dev-rw', 'read-only']],
      ],
    );
    assert.deepEqual(doc.roles[0].condition, {
      StringEqual: { 'jwt:iss': ['https://keycloak.example.com/realms/vendor'] },
      'ForAnyValue:StringEqual': { 'jwt:scope': ['openfaas:read'] },
    });
    assert.deepEqual(doc.roles[1].principal, { 'jwt:sub': ['github|1234'] });
    assert.equal(doc.roles[1].condition, undefined);
    assert.deepEqual(doc.policies[1], {
      name: 'dev-rw',
      statements: [{ sid: 'deploy', actions: ['Function:*'], resources: ['dev:*', 'staging:echo'], condition: { StringLike: { 'jwt:azp': ['ci-*'] } } }],
    });
  });

  it('reads the same objects from a JSON array', () => {
    assert.equal(parseAccessFile(`\uFEFF[${JSON.stringify({ apiVersion: 'iam.openfaas.com/v1', kind: 'Policy', metadata: { name: 'p' }, spec: { statement: [{ sid: 'a', action: ['*'], effect: 'Allow', resource: ['*'] }] } })}]`, 'bom.json').policies.length, 1, 'a byte order mark is skipped');
    const json = JSON.stringify([
      { apiVersion: 'iam.openfaas.com/v1', kind: 'Policy', metadata: { name: 'all' }, spec: { statement: [{ sid: 'a', action: ['*'], effect: 'Allow', resource: ['*'] }] } },
      { apiVersion: 'openfaas.com/v1', kind: 'Role', metadata: { name: 'admins' }, spec: { policy: ['all'], principal: { 'jwt:sub': ['me'] } } },
    ], null, 2);
    const doc = parseAccessFile(json, 'access.json');
    assert.deepEqual(doc.roles, [{ name: 'admins', policies: ['all'], principal: { 'jwt:sub': ['me'] } }]);
    assert.deepEqual(doc.policies[0].statements[0].actions, ['*']);
    assert.deepEqual(doc.issuers, []);
  });

  it('accepts a file of Roles and Policies without an issuer (the environment may give one)', () => {
    const doc = parseAccessFile(`${policy('all', ALL)}---\n${role('admins', '{ policy: [all] }')}`, 'access.yaml');
    assert.equal(doc.issuers.length, 0);
    assert.equal(doc.roles.length, 1);
  });

  it('lists every problem of a file at once, each naming the kind, the name and the field', () => {
    const problems = problemsOf(`${role('deployers', '{ policy: [dev-rw, gone], conditon: {}, condition: { StringEquals: { "jwt:sub": [a] }, StringLike: { sub: [a] } } }')}---
${policy('dev-rw', '{ sid: x, action: ["Function:Lst"], effect: Deny, resource: ["dev", "Dev:x", "dev:*", "*:x"] }, { action: [], resource: "dev:*" }')}`);
    const expected = [
      'Role "deployers": spec.conditon: unknown field; use policy, principal, condition',
      'Role "deployers": spec.condition.StringEquals: unknown operator; use one of StringEqual, StringEqualIgnoreCase, StringLike, ForAnyValue:StringEqual, ForAnyValue:StringLike',
      'Role "deployers": spec.condition.StringLike.sub: is not a claim; name claims jwt:<claim>, e.g. jwt:sub or jwt:realm_access.roles',
      'Role "deployers": spec.policy[1]: names Policy "gone", which the file does not define',
      'Policy "dev-rw": spec.statement[0].action[0]: "Function:Lst" is not an action;',
      'Policy "dev-rw": spec.statement[0].effect: must be Allow (the only effect)',
      'Policy "dev-rw": spec.statement[0].resource[0]: "dev" is not a resource;',
      'Policy "dev-rw": spec.statement[0].resource[1]: "Dev:x" is not a resource;',
      'Policy "dev-rw": spec.statement[0].resource[3]: "*:x" is not a resource;',
      'Policy "dev-rw": spec.statement[1].sid: is required',
      'Policy "dev-rw": spec.statement[1].action: must not be empty',
      'Policy "dev-rw": spec.statement[1].effect: is required; use Allow',
      'Policy "dev-rw": spec.statement[1].resource: must be a list',
    ];
    for (const start of expected) assert.ok(problems.some((p) => p.startsWith(start)), `missing: ${start}\nin: ${problems.join('\n')}`);
    assert.equal(problems.length, expected.length, problems.join('\n'));
    assert.ok(!problems.some((p) => p.includes('"dev:*" is not')), 'dev:* is a resource');
  });

  it('checks JwtIssuer URLs, audiences, audience claims and algorithms', () => {
    const problems = problemsOf(`apiVersion: iam.openfaas.com/v1
kind: JwtIssuer
metadata: { name: a }
spec: { iss: "ftp://x", aud: [], issInternal: "https://x/?q", jwksUrl: nope, algorithms: [HS256, none, RS1], audienceClaims: [sub] }
---
apiVersion: iam.openfaas.com/v1
kind: JwtIssuer
metadata: { name: b }
spec: { iss: https://idp.example.com/, aud: [""], extra: 1 }
---
apiVersion: iam.openfaas.com/v1
kind: JwtIssuer
metadata: { name: c }
spec: { aud: "x" }
`);
    const expected = [
      'JwtIssuer "a": spec.iss: "ftp://x" is not an http(s) URL',
      'JwtIssuer "a": spec.aud: must not be empty',
      'JwtIssuer "a": spec.issInternal: "https://x/?q" must not carry a query or fragment',
      'JwtIssuer "a": spec.jwksUrl: "nope" is not an http(s) URL',
      'JwtIssuer "a": spec.algorithms[0]: "HS256" is never accepted',
      'JwtIssuer "a": spec.algorithms[1]: "none" is never accepted',
      'JwtIssuer "a": spec.algorithms[2]: "RS1" is not supported',
      'JwtIssuer "a": spec.audienceClaims[0]: "sub" is not supported; use aud, azp, client_id, appid, cid',
      'JwtIssuer "b": spec.aud[0]: must not be empty',
      'JwtIssuer "b": spec.extra: unknown field',
      'JwtIssuer "c": spec.iss: is required',
      'JwtIssuer "c": spec.aud: must be a list',
    ];
    for (const start of expected) assert.ok(problems.some((p) => p.startsWith(start)), `missing: ${start}\nin: ${problems.join('\n')}`);
    assert.equal(problems.length, expected.length, problems.join('\n'));
  });

  it('refuses two objects of one kind and name, and two issuers of one iss', () => {
    const issuer = (name: string) =>
      `apiVersion: iam.openfaas.com/v1\nkind: JwtIssuer\nmetadata: { name: ${name} }\nspec: { iss: https://idp.example.com, aud: [gw] }\n`;
    const problems = problemsOf([issuer('one'), issuer('two'), policy('all', ALL), policy('all', ALL), role('all', '{ policy: [all] }')].join('---\n'));
    assert.deepEqual(problems, [
      'Policy "all": metadata.name: is also the name of document 3; names must be unique per kind',
      'JwtIssuer "two": spec.iss: "https://idp.example.com" is also the iss of JwtIssuer "one" (document 2)',
    ]);
  });

  it('names nameless objects by their document, and refuses unknown kinds, wrong apiVersions and non-objects', () => {
    const problems = problemsOf(`apiVersion: iam.openfaas.com/v1
kind: Thing
metadata: { name: x }
spec: {}
---
apiVersion: iam.openfaas.com/v1
kind: Role
spec: { policy: [all] }
---
apiVersion: openfaas.com/v1
kind: Policy
metadata: { name: all }
spec: { statement: [${ALL}] }
---
- 5
---
apiVersion: iam.openfaas.com/v1
kind: Role
metadata: { name: "" }
spec: { policy: [all] }
status: {}
`);
    assert.deepEqual(problems, [
      'document 1: kind: unknown kind; use JwtIssuer, Role, Policy',
      'Role (document 2): metadata: is required',
      'Policy "all": apiVersion: must be iam.openfaas.com/v1',
      'document 4: must be an object with apiVersion, kind, metadata and spec',
      'Role (document 5): metadata.name: must not be empty; give the object a name',
      'Role (document 5): status: unknown field; use apiVersion, kind, metadata, spec',
    ]);
  });

  it('refuses conditions that could never be what was meant: empty operators, claims and values, non-string values', () => {
    const problems = problemsOf(`${policy('all', ALL)}---
${role('a', '{ policy: [all], condition: {} }')}---
${role('b', '{ policy: [all], condition: { StringEqual: {} }, principal: {} }')}---
${role('c', '{ policy: [all], condition: { StringLike: { "jwt:realm_access.roles": ["", 5] } }, principal: { "jwt:sub": "one" } }')}`);
    assert.deepEqual(problems, [
      'Role "a": spec.condition: names no operator; leave condition out to match every token',
      'Role "b": spec.principal: names no claim; leave principal out or give {"jwt:sub": [...]}',
      'Role "b": spec.condition.StringEqual: names no claim',
      'Role "c": spec.principal.jwt:sub: must be a list; give the accepted values, e.g. ["value"]',
      'Role "c": spec.condition.StringLike."jwt:realm_access.roles"[0]: must not be empty; a claim value to accept',
      'Role "c": spec.condition.StringLike."jwt:realm_access.roles"[1]: must be a string; a claim value to accept',
    ]);
  });

  it('reports YAML syntax errors with their line, and duplicate keys', () => {
    assert.deepEqual(problemsOf('kind: Role\nspec: [\nmetadata: 1\n'), [
      'document 1: line 3, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
    // Lines count in the file: the Policy takes lines 1-4, "---" line 5.
    const [duplicate] = problemsOf(`${policy('all', ALL)}---\nkind: Role\nkind: Policy\n`);
    assert.match(duplicate, /^document 2: line 7, column 1: Map keys must be unique/);
  });

  it('reports JSON syntax errors with their line and column, and refuses duplicate keys JSON.parse would hide', () => {
    const [syntax] = problemsOf('[\n  {"kind": "Role",}\n]');
    assert.match(syntax, /^not valid JSON: .* at line 2, column 19$/);
    assert.deepEqual(problemsOf('[{"kind": "Role",\n  "kind": "Policy"}]'), ['line 2, column 3: a key appears twice in one object']);
    assert.deepEqual(problemsOf('[]'), ['holds no objects; give JwtIssuer, Role and Policy objects of apiVersion iam.openfaas.com/v1']);
  });

  it('refuses an empty file and a file of comments', () => {
    for (const text of ['', '# nothing yet\n', '---\n---\n']) {
      assert.deepEqual(problemsOf(text), ['holds no objects; give JwtIssuer, Role and Policy objects of apiVersion iam.openfaas.com/v1'], JSON.stringify(text));
    }
  });
});

describe(loadAccessFile.name, () => {
  it('reads a file, and names one it cannot read as a problem of the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'access-file-'));
    try {
      const path = join(dir, 'access.yaml');
      writeFileSync(path, EXAMPLE);
      assert.equal(loadAccessFile(path).roles.length, 2);
      const missing = join(dir, 'missing.yaml');
      assert.throws(() => loadAccessFile(missing), (err: unknown) => {
        assert.ok(err instanceof AccessFileError);
        assert.deepEqual(err.problems, ['does not exist; mount the access file there']);
        assert.ok(err.message.startsWith(`invalid access file ${missing}:`));
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

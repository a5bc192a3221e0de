import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { GraphQLSchemaHost } from '@nestjs/graphql';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AppModule } from '../../src/app.module';
import { loadConfig } from '../../src/config/gateway-config';
import { createLogger } from '../../src/observability/logger';

function silentLog() {
  const log = createLogger({ encoding: 'json', debug: false }, { write: () => undefined });
  log.logger.level = 'silent';
  return log;
}

/** Where the committed schema lives. */
export const SCHEMA_FILE = resolve(__dirname, '../../../schema.gql');

/** The SDL the real AppModule serves at /graphql (no listener, no IdP needed). */
export async function servedSchema(): Promise<string> {
  const secrets = mkdtempSync(join(tmpdir(), 'gateway-schema-'));
  writeFileSync(join(secrets, 'basic-auth-user'), 'admin');
  writeFileSync(join(secrets, 'basic-auth-password'), 'unused');
  const config = loadConfig({ issuer: 'http://127.0.0.1:9/unused', audience: 'schema', secret_mount_path: secrets });
  const app = await NestFactory.create(AppModule.forRoot(config, silentLog()), { logger: false, bodyParser: false });
  try {
    await app.init();
    const { schema } = app.get(GraphQLSchemaHost);
    return `# Generated from the code-first resolvers by \`npm run schema\`; a test fails when they drift apart.\n\n${printSchema(lexicographicSortSchema(schema))}\n`;
  } finally {
    await app.close();
    rmSync(secrets, { recursive: true, force: true });
  }
}

if (require.main === module) {
  servedSchema().then(
    (sdl) => {
      writeFileSync(SCHEMA_FILE, sdl);
      process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
    },
    (err: Error) => {
      process.stderr.write(`${err.stack}\n`);
      process.exit(1);
    },
  );
}

import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT_CONTEXT } from '../src/client-context-key.js';
import { FlyExecError, type FlyLogger, REDACTED, withLease } from '../src/index.js';
import {
  type Harness,
  MACAROON_TOKEN,
  memoryHarness,
  OAUTH_TOKEN,
  recordingLogger,
} from './helpers/harness.js';

const APP = 'live-schedule-api';
const ID = '148ed193b95089';
const PLAIN_TOKEN = 'plain-api-secret-Zx81Qm';
const MACAROON_PARTS = MACAROON_TOKEN.replace('FlyV1 ', '').split(',');
const PRIVATE_KEY =
  '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----';
let harness: Harness;

afterEach(async () => {
  await harness?.close();
});

/** Renders an error in every form that reaches a user or a log. */
function renderings(error: unknown): Record<string, string> {
  const value = error as Error;
  return {
    message: value.message,
    string: String(value),
    json: JSON.stringify(value),
    stack: value.stack ?? '',
    inspect: inspect(value, { depth: 5 }),
    hint: String((value as { hint?: string }).hint),
  };
}

function expectClean(text: string, secrets: string[]) {
  for (const secret of secrets) expect(text).not.toContain(secret);
}

describe('token redaction', () => {
  const echoes: [string, string, string[], Parameters<typeof memoryHarness>[0]][] = [
    ['macaroon echoed with scheme', `invalid token: ${MACAROON_TOKEN}`, MACAROON_PARTS, {}],
    ['one macaroon part echoed bare', `token ${MACAROON_PARTS[1]} expired`, MACAROON_PARTS, {}],
    [
      'oauth token echoed',
      `Bearer ${OAUTH_TOKEN} is not valid`,
      [OAUTH_TOKEN],
      { token: OAUTH_TOKEN },
    ],
    [
      'token of no known shape echoed',
      `unknown token ${PLAIN_TOKEN}`,
      [PLAIN_TOKEN],
      { token: PLAIN_TOKEN },
    ],
    [
      'private key echoed',
      `bad key ${PRIVATE_KEY}`,
      ['b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ'],
      {},
    ],
  ];

  for (const [name, body, secrets, options] of echoes) {
    it(`keeps ${name} out of every error form`, async () => {
      harness = memoryHarness(options);
      harness.fly.script('POST', /\/start$/, { status: 401, body: { error: body } });
      const error = await harness.client.machines.start(APP, ID).catch((e: unknown) => e);
      for (const [form, text] of Object.entries(renderings(error))) {
        expect(text, form).not.toBe('');
        expectClean(text, secrets);
      }
      expect((error as Error).message).toContain(REDACTED);
    });
  }

  it('keeps the token out of a plain-text error body', async () => {
    harness = memoryHarness({ token: PLAIN_TOKEN });
    harness.fly.script('GET', /\/volumes$/, {
      status: 500,
      text: `upstream said Authorization: Bearer ${PLAIN_TOKEN}`,
    });
    const error = await harness.client.volumes.list(APP).catch((e: unknown) => e);
    for (const text of Object.values(renderings(error))) expectClean(text, [PLAIN_TOKEN]);
  });

  it('keeps the token out of GraphQL errors', async () => {
    harness = memoryHarness();
    harness.fly.script('POST', /graphql$/, {
      status: 200,
      body: { data: null, errors: [{ message: `not authorized: ${MACAROON_PARTS[0]}` }] },
    });
    const publicKey =
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOa3nSd9dH1mQ4u0e8bB9lq1Zz5cQ2x7e0A1b2C3d4E5';
    const error = await harness.client.ssh
      .issueCertificate({ app: APP, publicKey })
      .catch((e: unknown) => e);
    expect((error as { code: string }).code).toBe('FLY_UNAUTHORIZED');
    for (const text of Object.values(renderings(error))) expectClean(text, MACAROON_PARTS);
  });

  it('keeps the token out of exec output in errors', async () => {
    harness = memoryHarness({ token: PLAIN_TOKEN });
    harness.fly.script('POST', /\/exec$/, {
      status: 200,
      body: {
        exit_code: 1,
        stdout: `FLY_API_TOKEN=${PLAIN_TOKEN}\n`,
        stderr: `leaked ${PLAIN_TOKEN}`,
      },
    });
    const error = await harness.client.machines
      .exec(APP, ID, { command: ['env'] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FlyExecError);
    for (const text of Object.values(renderings(error))) expectClean(text, [PLAIN_TOKEN]);
  });

  it('keeps an issued certificate out of later errors', async () => {
    harness = memoryHarness();
    const publicKey =
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOa3nSd9dH1mQ4u0e8bB9lq1Zz5cQ2x7e0A1b2C3d4E5';
    const { certificate } = await harness.client.ssh.issueCertificate({ app: APP, publicKey });
    const blob = certificate.split(' ')[1]!;
    harness.fly.script('GET', /\/machines\/148ed193b95089$/, {
      status: 400,
      body: { error: `rejected certificate ${blob}` },
    });
    const error = await harness.client.machines.get(APP, ID).catch((e: unknown) => e);
    for (const text of Object.values(renderings(error))) expectClean(text, [blob]);
  });
});

describe('logger redaction', () => {
  it('never logs the token, even from failures and retries', async () => {
    const logger = recordingLogger();
    harness = memoryHarness({ token: PLAIN_TOKEN, logger });
    harness.fly.script('GET', /\/machines\/148ed193b95089$/, {
      status: 503,
      body: { error: `overloaded for ${PLAIN_TOKEN}` },
    });
    harness.fly.script('DELETE', /\/lease$/, {
      status: 500,
      body: { error: `cannot release for ${PLAIN_TOKEN}` },
    });
    await harness.client.machines.get(APP, ID);
    await withLease(harness.client, APP, ID, {}, async () => undefined);
    const output = JSON.stringify(logger.lines);
    expect(logger.lines.some((line) => line.message === 'fly request retry')).toBe(true);
    expect(logger.lines.some((line) => line.message.startsWith('fly lease release failed'))).toBe(
      true,
    );
    expect(output).not.toContain(PLAIN_TOKEN);
  });

  it('redacts secrets that a caller passes through the client logger', async () => {
    const lines: string[] = [];
    const sink: FlyLogger = {
      debug: (message, fields) => lines.push(message + JSON.stringify(fields)),
      info: (message, fields) => lines.push(message + JSON.stringify(fields)),
      warn: (message, fields) => lines.push(message + JSON.stringify(fields)),
      error: (message, fields) => lines.push(message + JSON.stringify(fields)),
    };
    harness = memoryHarness({ token: PLAIN_TOKEN, logger: sink });
    harness.client[CLIENT_CONTEXT].logger.error(`token ${PLAIN_TOKEN}`, {
      nested: { error: new Error(PLAIN_TOKEN) },
      key: PRIVATE_KEY,
    });
    expect(lines.join('\n')).not.toContain(PLAIN_TOKEN);
    expect(lines.join('\n')).not.toContain('b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ');
  });
});

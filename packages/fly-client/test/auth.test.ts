import { afterEach, describe, expect, it } from 'vitest';
import { buildAuthHeaders, isMacaroon } from '../src/index.js';
import { type Harness, MACAROON_TOKEN, memoryHarness, OAUTH_TOKEN } from './helpers/harness.js';

let harness: Harness;

afterEach(async () => {
  await harness?.close();
});

describe('buildAuthHeaders', () => {
  const cases: [string, string, string, string][] = [
    [
      'FlyV1 macaroons',
      'FlyV1 fm2_aaaa,fm2_bbbb',
      'FlyV1 fm2_aaaa,fm2_bbbb',
      'FlyV1 fm2_aaaa,fm2_bbbb',
    ],
    ['bare macaroon', 'fm2_aaaa', 'FlyV1 fm2_aaaa', 'FlyV1 fm2_aaaa'],
    [
      'fm1r and fm1a macaroons',
      'fm1r_aaaa, fm1a_bbbb',
      'FlyV1 fm1r_aaaa,fm1a_bbbb',
      'FlyV1 fm1r_aaaa,fm1a_bbbb',
    ],
    ['Bearer prefix stripped', 'Bearer fo1_oauth', 'Bearer fo1_oauth', 'Bearer fo1_oauth'],
    ['lowercase flyv1 prefix', 'flyv1 fm2_aaaa', 'FlyV1 fm2_aaaa', 'FlyV1 fm2_aaaa'],
    ['oauth token', 'fo1_oauth', 'Bearer fo1_oauth', 'Bearer fo1_oauth'],
    ['macaroon plus oauth', 'fm2_aaaa,fo1_oauth', 'FlyV1 fm2_aaaa', 'FlyV1 fm2_aaaa,fo1_oauth'],
  ];
  for (const [name, token, machines, graphql] of cases) {
    it(`builds headers for ${name}`, () => {
      expect(buildAuthHeaders(token)).toEqual({ machines, graphql });
    });
  }

  it('classifies macaroon prefixes', () => {
    expect(isMacaroon('fm2_x')).toBe(true);
    expect(isMacaroon('fm3_x')).toBe(false);
    expect(isMacaroon('fo1_x')).toBe(false);
  });
});

describe('auth headers on the wire', () => {
  it('sends FlyV1 to the Machines API for macaroons', async () => {
    harness = memoryHarness({ token: MACAROON_TOKEN, userAgent: 'flydr-test/1' });
    await harness.client.machines.list('live-schedule-api');
    const headers = harness.fly.seen[0]?.headers;
    expect(headers?.authorization).toBe(MACAROON_TOKEN);
    expect(headers?.['user-agent']).toBe('flydr-test/1');
    expect(headers?.accept).toBe('application/json');
  });

  it('sends Bearer for other tokens, to GraphQL too', async () => {
    harness = memoryHarness({ token: OAUTH_TOKEN });
    await harness.client.ssh.issueCertificate({
      app: 'live-schedule-api',
      publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOa3nSd9dH1mQ4u0e8bB9lq1Zz5cQ2x7e0A1b2C3d4E5',
    });
    for (const request of harness.fly.seen)
      expect(request.headers.authorization).toBe(`Bearer ${OAUTH_TOKEN}`);
  });
});

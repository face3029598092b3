import { generateApiKey } from '@gatehouse/crypto';
import { apiCredentials, authenticateCredentials } from './credentials';

const KEY = generateApiKey('live').secret;
const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';

describe('apiCredentials', () => {
  it('takes a key from X-API-Key', () => {
    expect(apiCredentials({ 'x-api-key': KEY })).toEqual({ kind: 'api_key', apiKey: KEY });
  });

  it('takes a key from Authorization: Bearer, told apart from a JWT by its prefix', () => {
    expect(apiCredentials({ authorization: `Bearer ${KEY}` })).toEqual({ kind: 'api_key', apiKey: KEY });
    expect(apiCredentials({ authorization: `bearer ${JWT}` })).toEqual({ kind: 'bearer', token: JWT });
  });

  it('prefers X-API-Key when both are sent', () => {
    expect(apiCredentials({ 'x-api-key': KEY, authorization: `Bearer ${JWT}` })).toEqual({
      kind: 'api_key',
      apiKey: KEY,
    });
  });

  it.each([
    ['a key without the Bearer scheme', { authorization: KEY }],
    ['a key under another scheme', { authorization: `ApiKey ${KEY}` }],
    ['a key in a header of another name', { 'x-api-token': KEY }],
    ['a key in Api-Key', { 'api-key': KEY }],
  ])('names the right header for %s', (_case, headers) => {
    const credentials = apiCredentials(headers);
    expect(credentials.kind).toBe('misplaced');
    expect(credentials).toMatchObject({ message: expect.stringContaining('X-API-Key') });
    expect(credentials).toMatchObject({ message: expect.stringContaining('Authorization: Bearer') });
  });

  it('tells a caller who put a token in X-API-Key where tokens go', () => {
    expect(apiCredentials({ 'x-api-key': JWT })).toEqual({
      kind: 'misplaced',
      message: expect.stringContaining("'Authorization: Bearer <token>'"),
    });
  });

  it('names Bearer for a token under another scheme', () => {
    expect(apiCredentials({ authorization: `Token ${JWT}` })).toEqual({
      kind: 'misplaced',
      message: expect.stringContaining('Authorization: Bearer'),
    });
  });

  it('reports nothing presented', () => {
    expect(apiCredentials({})).toEqual({ kind: 'none' });
    expect(apiCredentials({ authorization: 'Bearer ' })).toMatchObject({ kind: 'misplaced' });
  });
});

describe('authenticateCredentials', () => {
  it('takes the key from X-API-Key', () => {
    expect(authenticateCredentials({ 'x-api-key': KEY })).toEqual({ kind: 'api_key', apiKey: KEY });
  });

  it.each([
    ['Authorization: Bearer', { authorization: `Bearer ${KEY}` }],
    ['a header of another name', { 'x-auth-token': KEY }],
  ])('refuses a key sent in %s, naming X-API-Key', (_case, headers) => {
    expect(authenticateCredentials(headers)).toEqual({
      kind: 'misplaced',
      message: expect.stringContaining('X-API-Key'),
    });
  });

  it('leaves a request without a key to auth-service, which answers missing_api_key', () => {
    expect(authenticateCredentials({})).toEqual({ kind: 'none' });
  });
});

import { mediaTypeOf } from './media-type';

const bytes = (text: string) => Buffer.from(text);

describe('mediaTypeOf', () => {
  it('sends SARIF as application/sarif+json, by name or by content', () => {
    expect(mediaTypeOf('results.sarif', bytes('{}'), 'auto')).toBe('application/sarif+json');
    expect(mediaTypeOf('results.sarif.json.gz', bytes('{}'), 'auto')).toBe('application/sarif+json');
    expect(mediaTypeOf('out.json', bytes('{"version": "2.1.0", "runs": []}'), 'auto')).toBe(
      'application/sarif+json',
    );
    expect(
      mediaTypeOf('out.json', bytes('{"$schema":"https://json.schemastore.org/sarif-2.1.0.json"}'), 'auto'),
    ).toBe('application/sarif+json');
  });

  it('sends everything else as application/json, for the server to tell apart', () => {
    expect(mediaTypeOf('findings.json', bytes('{"findings": []}'), 'auto')).toBe('application/json');
    expect(mediaTypeOf('notes.txt', bytes('hello'), 'auto')).toBe('application/json');
  });

  it('follows --format over the name and content', () => {
    expect(mediaTypeOf('results.sarif', bytes('{}'), 'native')).toBe('application/json');
    expect(mediaTypeOf('x.json', bytes('{}'), 'sarif')).toBe('application/sarif+json');
  });
});

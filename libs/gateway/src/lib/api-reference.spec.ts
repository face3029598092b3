import { gunzipSync } from 'node:zlib';
import {
  acceptsGzip,
  API_REFERENCE_CONTENT_SECURITY_POLICY,
  extractStandaloneBundle,
  prefersHtml,
  referenceScriptOf,
  renderReferencePage,
} from './api-reference';

describe('prefersHtml', () => {
  it.each([
    ['Firefox', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
    ['Chrome', 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'],
    ['Safari', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
    ['HTML only', 'text/html'],
    ['HTML over JSON', 'application/json;q=0.5, text/html'],
    ['text/* over JSON', 'text/*, application/json;q=0.1'],
  ])('is true for %s (%s)', (_client, accept) => {
    expect(prefersHtml(accept)).toBe(true);
  });

  it.each([
    ['no Accept', undefined],
    ['an empty Accept', ''],
    ['curl', '*/*'],
    ['JSON', 'application/json'],
    ['axios', 'application/json, text/plain, */*'],
    ['a tie', 'text/html, application/json'],
    ['JSON over HTML', 'text/html;q=0.4, application/json'],
    ['HTML refused', 'text/html;q=0, */*'],
    ['something else', 'application/yaml'],
    ['garbage', ';;,/,q=x'],
  ])('is false for %s: the document, as before the page existed', (_case, accept) => {
    expect(prefersHtml(accept)).toBe(false);
  });
});

describe('acceptsGzip', () => {
  it('takes gzip when listed or allowed by *, unless its q is 0', () => {
    expect(acceptsGzip('gzip, deflate, br')).toBe(true);
    expect(acceptsGzip('br;q=1.0, gzip;q=0.8')).toBe(true);
    expect(acceptsGzip('*')).toBe(true);
    expect(acceptsGzip('gzip;q=0')).toBe(false);
    expect(acceptsGzip('br')).toBe(false);
    expect(acceptsGzip(undefined)).toBe(false);
  });
});

describe('renderReferencePage', () => {
  const page = renderReferencePage({
    title: 'Gatehouse API <reference>',
    documentUrl: '/api/docs/openapi.json',
    scriptUrl: '/api/docs/assets/scalar-api-reference.0123.js',
  });

  it('has no inline script: only the bundle from the gateway and a JSON data block', () => {
    const scripts = [...page.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts).toHaveLength(2);
    expect(scripts[0]?.[1]).toContain('type="application/json"');
    expect(scripts[0]?.[2]).toBe('');
    expect(scripts[1]?.[1]).toBe(' src="/api/docs/assets/scalar-api-reference.0123.js"');
    expect(scripts[1]?.[2]).toBe('');
  });

  it('tells the bundle where the document is and turns off everything that would leave the gateway', () => {
    const attribute = /data-configuration="([^"]*)"/.exec(page)?.[1] ?? '';
    const configuration = JSON.parse(attribute.replace(/&quot;/g, '"').replace(/&amp;/g, '&')) as Record<
      string,
      unknown
    >;
    expect(configuration).toMatchObject({
      url: '/api/docs/openapi.json',
      withDefaultFonts: false,
      telemetry: false,
      agent: { disabled: true },
      mcp: { disabled: true },
      hideClientButton: true,
    });
  });

  it('escapes the title', () => {
    expect(page).toContain('<title>Gatehouse API &lt;reference&gt;</title>');
  });
});

describe('API_REFERENCE_CONTENT_SECURITY_POLICY', () => {
  const directives = new Map(
    API_REFERENCE_CONTENT_SECURITY_POLICY.split('; ').map((directive) => {
      const [name, ...values] = directive.split(' ');
      return [name, values] as const;
    }),
  );

  it('allows scripts and requests to the gateway only, and no framing', () => {
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('connect-src')).toEqual(["'self'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(API_REFERENCE_CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-eval|https?:|\*/);
  });
});

describe('extractStandaloneBundle', () => {
  const moduleOf = (literal: string) =>
    `import x from "y";\n//#region standalone.js?raw\nvar standalone_default = ${literal};\n//#endregion\nexport { x };\n`;

  it('reads the string constant, escapes and raw control characters included, without evaluating it', () => {
    const bundle = extractStandaloneBundle(
      moduleOf('"(function(){a(`\t`,\\"x\\",\'y\')})();\\n<\\/script>"'),
    );
    expect(bundle).toBe('(function(){a(`\t`,"x",\'y\')})();\n</script>');
  });

  it('fails with the package named when the module no longer has the constant', () => {
    expect(() => extractStandaloneBundle('export default 1;\n')).toThrow(
      '@scalar/fastify-api-reference: no standalone bundle found in its module',
    );
    expect(() => extractStandaloneBundle(moduleOf('someFunction()'))).toThrow('is not a string literal');
    expect(() => extractStandaloneBundle(moduleOf('""'))).toThrow('is empty');
  });
});

describe('referenceScriptOf', () => {
  it('names the file after its content and keeps a gzip copy of it', async () => {
    const source = 'var standalone_default = "(function(){window.Scalar={}})();";\n';
    const script = await referenceScriptOf(source);
    expect(script.fileName).toMatch(/^scalar-api-reference\.[0-9a-f]{16}\.js$/);
    expect(script.body.toString('utf8')).toBe('(function(){window.Scalar={}})();');
    expect(gunzipSync(script.gzipped).toString('utf8')).toBe('(function(){window.Scalar={}})();');
    const other = await referenceScriptOf(source.replace('{}', '{a:1}'));
    expect(other.fileName).not.toBe(script.fileName);
  });
});

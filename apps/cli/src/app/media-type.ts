export const SARIF_MEDIA_TYPE = 'application/sarif+json';
export const JSON_MEDIA_TYPE = 'application/json';

export type UploadFormat = 'auto' | 'sarif' | 'native';

/** How much of a file is looked at to tell SARIF from the native format: the top-level keys come first. */
const SNIFF_BYTES = 64 * 1024;

export function isGzip(content: Uint8Array): boolean {
  return content.length >= 2 && content[0] === 0x1f && content[1] === 0x8b;
}

/**
 * The media type to send a report with. The server tells SARIF from the native format by itself for
 * `application/json`; SARIF is sent as `application/sarif+json`, as scanners name it, when the file says it is one
 * (its name, or a `version` "2.1.0" with `runs` or a SARIF `$schema` near its start).
 */
export function mediaTypeOf(fileName: string, decompressedStart: Uint8Array, format: UploadFormat): string {
  if (format === 'sarif') return SARIF_MEDIA_TYPE;
  if (format === 'native') return JSON_MEDIA_TYPE;
  const name = fileName.toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.sarif') || name.endsWith('.sarif.json')) return SARIF_MEDIA_TYPE;
  const head = Buffer.from(decompressedStart.subarray(0, SNIFF_BYTES)).toString('utf8');
  const declaresVersion = /"version"\s*:\s*"2\.1\.0"/.test(head) && /"runs"\s*:/.test(head);
  const declaresSchema = /"\$schema"\s*:\s*"[^"]*sarif[^"]*"/i.test(head);
  return declaresVersion || declaresSchema ? SARIF_MEDIA_TYPE : JSON_MEDIA_TYPE;
}

/**
 * SARIF 2.1.0 logs written for the end-to-end tests: small ones whose every field a test asserts on, and a large
 * one shaped like a real scanner's (code flows, partial fingerprints) whose processing takes measurable time.
 */

export type SarifLevel = 'error' | 'warning' | 'note' | 'none';

export interface RuleSpec {
  id: string;
  name?: string;
  /** `properties['security-severity']`, a numeric string as GitHub's convention has it. */
  securitySeverity?: string;
  tags?: string[];
  /** `defaultConfiguration.level`. */
  level?: SarifLevel;
  helpUri?: string;
}

export interface ResultSpec {
  rule: string;
  path: string;
  line: number;
  column?: number;
  level?: SarifLevel;
  /** `properties['security-severity']` of the result, which wins over its rule's. */
  securitySeverity?: string;
  /** `partialFingerprints.primaryLocationLineHash`; without it the identity is computed. */
  fingerprint?: string;
  message?: string;
}

export interface ProvenanceSpec {
  repositoryUri: string;
  revisionId?: string;
  branch?: string;
}

export interface RunSpec {
  tool: string;
  version?: string;
  rules?: RuleSpec[];
  results: ResultSpec[];
  provenance?: ProvenanceSpec;
}

export interface SarifLog {
  version: '2.1.0';
  $schema: string;
  runs: Record<string, unknown>[];
}

function sarifRule(rule: RuleSpec): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  if (rule.tags) properties['tags'] = rule.tags;
  if (rule.securitySeverity !== undefined) properties['security-severity'] = rule.securitySeverity;
  return {
    id: rule.id,
    ...(rule.name !== undefined && { name: rule.name }),
    shortDescription: { text: `Rule ${rule.id}` },
    ...(rule.helpUri !== undefined && { helpUri: rule.helpUri }),
    ...(rule.level !== undefined && { defaultConfiguration: { level: rule.level } }),
    ...(Object.keys(properties).length > 0 && { properties }),
  };
}

function sarifResult(result: ResultSpec): Record<string, unknown> {
  return {
    ruleId: result.rule,
    ...(result.level !== undefined && { level: result.level }),
    message: { text: result.message ?? `${result.rule} at ${result.path}:${result.line}` },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: result.path },
          region: {
            startLine: result.line,
            endLine: result.line,
            ...(result.column !== undefined && { startColumn: result.column }),
          },
        },
      },
    ],
    ...(result.fingerprint !== undefined && {
      partialFingerprints: { primaryLocationLineHash: result.fingerprint },
    }),
    ...(result.securitySeverity !== undefined && {
      properties: { 'security-severity': result.securitySeverity },
    }),
  };
}

export function sarifRun(run: RunSpec): Record<string, unknown> {
  const ruleIds = new Set((run.rules ?? []).map((rule) => rule.id));
  // Every rule a result names is declared, as scanners do; the spec's own rules carry the metadata.
  const rules = [
    ...(run.rules ?? []),
    ...[...new Set(run.results.map((result) => result.rule))]
      .filter((id) => !ruleIds.has(id))
      .map((id) => ({ id })),
  ];
  return {
    tool: {
      driver: {
        name: run.tool,
        ...(run.version !== undefined && { version: run.version }),
        rules: rules.map(sarifRule),
      },
    },
    ...(run.provenance && { versionControlProvenance: [run.provenance] }),
    results: run.results.map(sarifResult),
  };
}

export function sarifLog(runs: RunSpec[]): SarifLog {
  return {
    version: '2.1.0',
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    runs: runs.map(sarifRun),
  };
}

/** `count` results of one rule in different files, each with its own fingerprint. */
export function numberedResults(count: number, prefix: string, rule = 'generic-rule'): ResultSpec[] {
  return Array.from({ length: count }, (_, index) => ({
    rule,
    path: `src/${prefix}/file-${index}.ts`,
    line: index + 1,
    fingerprint: `${prefix}-${index}`,
  }));
}

export interface LargeSarifOptions {
  /** Results in the document, repeats included. */
  results: number;
  /** How many of them repeat an earlier result (same fingerprint, rule and file): the distinct ones are fewer. */
  repeats: number;
  tool: string;
  provenance: ProvenanceSpec;
}

/**
 * A report shaped like CodeQL's: each result with a code flow of several steps and a partial fingerprint, 25
 * rules. The code flows are what makes such reports large; Gatehouse tokenizes them and keeps none of them.
 */
export function largeSarifLog(options: LargeSarifOptions): SarifLog {
  const rules = Array.from({ length: 25 }, (_, index) => ({
    id: `js/large-rule-${index}`,
    name: `LargeRule${index}`,
    shortDescription: { text: `Large rule ${index}` },
    properties: { tags: ['security', `external/cwe/cwe-${100 + index}`], 'security-severity': '6.1' },
  }));
  const distinct = options.results - options.repeats;
  const results = Array.from({ length: options.results }, (_, position) => {
    // The repeats come last and copy the first results: the same finding reported twice in one scan.
    const index = position < distinct ? position : position - distinct;
    const path = `src/module-${index % 97}/file-${index}.js`;
    const step = (line: number, text: string) => ({
      location: {
        physicalLocation: {
          artifactLocation: { uri: path, uriBaseId: '%SRCROOT%' },
          region: { startLine: line, startColumn: 3, endColumn: 40 },
        },
        message: { text },
      },
    });
    return {
      ruleId: rules[index % rules.length].id,
      ruleIndex: index % rules.length,
      message: { text: `User-provided value flows to a sensitive sink (finding ${index}).` },
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri: path, uriBaseId: '%SRCROOT%' },
            region: { startLine: 10 + (index % 300), startColumn: 5, endColumn: 42 },
          },
        },
      ],
      partialFingerprints: { primaryLocationLineHash: `large-${index}:1` },
      codeFlows: [
        {
          threadFlows: [
            {
              locations: [
                step(2, 'req.query.name'),
                step(4, 'name'),
                step(7, 'buildQuery(name)'),
                step(9, 'db.execute(sql)'),
              ],
            },
          ],
        },
      ],
    };
  });
  return {
    version: '2.1.0',
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    runs: [
      {
        tool: { driver: { name: options.tool, version: '2.17.0', rules } },
        versionControlProvenance: [options.provenance],
        results,
      },
    ],
  };
}

#!/usr/bin/env node
// Renders every Kustomize overlay under deploy/overlays with `kubectl kustomize` and checks every object it renders:
//
// 1. against the Kubernetes schemas, offline: kubernetes-models ships validators compiled from the Kubernetes
//    OpenAPI document, one per kind. They do not reject fields the schema does not know, so each object is also
//    checked strictly here: a field the validator never looked at (a typo such as `readinesProbe`) is an error.
// 2. against Gatehouse's own rules: probes, resources, non-root and read-only pods, rolling updates that keep
//    capacity, one HPA and PDB per app, every variable of the configuration table (docs/CONFIGURATION.md) wired from a ConfigMap
//    or (when sensitive) a Secret, the signing key mounted from a Secret, NetworkPolicies under which only the
//    gateway can be reached from outside (and each app's management port only from the monitoring namespace), and
//    PodMonitors whose selector and port names match the pods they scrape.
//
// Exits 1 on any problem. `--self-test` also breaks a rendered overlay in known ways and fails unless each break is
// caught. Usage: node tools/k8s/validate.mjs [--self-test] [--help] [overlay ...]   (KUBECTL=/path/to/kubectl)
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const overlaysDir = join(root, 'deploy/overlays');
const KUBECTL = process.env.KUBECTL || 'kubectl';

/** The kinds the manifests may use, each at an API version every supported Kubernetes (1.25+) serves. */
const KINDS = {
  v1: ['Namespace', 'ConfigMap', 'Secret', 'Service'],
  'apps/v1': ['Deployment'],
  'batch/v1': ['Job'],
  'autoscaling/v2': ['HorizontalPodAutoscaler'],
  'policy/v1': ['PodDisruptionBudget'],
  'networking.k8s.io/v1': ['NetworkPolicy'],
  // prometheus-operator's (deploy/components/monitoring); validated with @kubernetes-models/prometheus-operator.
  'monitoring.coreos.com/v1': ['PodMonitor'],
};

/** Where each group's compiled validators come from: kubernetes-models, or a package of CRD models. */
const MODEL_PACKAGES = { 'monitoring.coreos.com/v1': '@kubernetes-models/prometheus-operator' };

/**
 * The four services: their port, their management port (GET /metrics, container port `management`), their name in
 * the configuration table (docs/CONFIGURATION.md), and who may connect to them.
 */
const APPS = {
  'api-gateway': { port: 8080, managementPort: 9080, readme: 'gateway', callers: 'anywhere' },
  'auth-service': {
    port: 3001,
    managementPort: 9001,
    readme: 'auth',
    callers: ['admin-api', 'api-gateway', 'findings-service'],
  },
  'findings-service': { port: 3002, managementPort: 9002, readme: 'findings', callers: ['api-gateway'] },
  'admin-api': { port: 3003, managementPort: 9003, readme: 'admin', callers: ['api-gateway'] },
};
/** The container port every app serves GET /metrics on, and that scrapes and their NetworkPolicy name. */
const MANAGEMENT_PORT_NAME = 'management';
const CLI = 'gatehouse-cli';

/** Configuration-table variables an app deliberately does not get as an environment variable, and why. */
/** Chosen by the standalone suite for the apps in its one process; a deployment keeps the defaults (servers). */
const STANDALONE_ONLY = {
  KEY_EVENTS_BUS: 'its only other value (in-process) is for the standalone suite: a deployment keeps redis',
  REVOCATION_CHANNEL: 'it is the deprecated name of KEY_EVENTS_CHANNEL, which the manifests set',
};
const MANAGEMENT_HOST_UNSET =
  'unset, the management listener takes HOST (0.0.0.0); the NetworkPolicy metrics-scrape-ingress decides who reaches it';
const APP_NOT_WIRED = { ...STANDALONE_ONLY, MANAGEMENT_HOST: MANAGEMENT_HOST_UNSET };
const DATA_SERVICE_NOT_WIRED = {
  ...APP_NOT_WIRED,
  DATABASE_DRIVER: 'its only other value (embedded) is for the standalone suite: a deployment keeps postgres',
};
const NOT_WIRED = {
  'api-gateway': {
    ...APP_NOT_WIRED,
    RATE_LIMIT_STORE:
      'replicas share their counters in Redis (the default); memory is for the standalone suite',
    DASHBOARD_DIR:
      'the default finds the dashboard build the gateway image carries beside its bundle (/dashboard); nothing to set',
  },
  'auth-service': {
    ...DATA_SERVICE_NOT_WIRED,
    JWT_SIGNING_KEY: 'the key is a file mounted from a Secret, named by JWT_SIGNING_KEY_FILE',
  },
  'findings-service': DATA_SERVICE_NOT_WIRED,
  'admin-api': DATA_SERVICE_NOT_WIRED,
  [CLI]: { REVOCATION_CHANNEL: STANDALONE_ONLY.REVOCATION_CHANNEL },
};

/**
 * Configuration-table variables an overlay may set or leave out, for every app: the tracing settings
 * (docs/OPERATIONS.md, "Tracing (OpenTelemetry)"), which name each environment's own collector and sampling.
 * Unset, each takes its default (tracing itself is off). OTEL_EXPORTER_OTLP_ENDPOINT, the switch, is wired empty in
 * deploy/base; when one of these is wired, the rules of the others hold (a sensitive one only from a Secret).
 */
const OPTIONAL = new Set([
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_SERVICE_NAME',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
  'OTEL_SDK_DISABLED',
]);

/** Secrets an overlay references but does not render: created in the cluster by its operators (docs/KUBERNETES.md). */
const EXTERNAL_SECRETS = {
  prod: {
    'gatehouse-datastores': [
      'DATABASE_URL',
      'REDIS_URL',
      'DATABASE_MIGRATION_URL',
      'REDIS_PASSWORD',
      'REDIS_SENTINEL_PASSWORD',
    ],
    'gatehouse-gateway-secret': ['GATEWAY_SECRET'],
    'gatehouse-webhook-key': ['WEBHOOK_SECRET_ENCRYPTION_KEY'],
    'gatehouse-jwt-signing-key': [
      'jwt-signing-key.pem',
      'jwt-next-signing-key.pem',
      'jwt-previous-signing-key.pem',
    ],
  },
};

/** Variables whose value the Deployments must have, whatever the overlay. */
const FIXED_VALUES = { HOST: '0.0.0.0', NODE_ENV: 'production' };

/** The dev overlay's signing key: git-ignored, created here when missing so that the overlay renders. */
const DEV_SIGNING_KEY = join(overlaysDir, 'dev/secrets/jwt-signing-key.pem');

// ---------------------------------------------------------------------------------------------------------------
// Rendering

function run(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw new Error(`cannot run ${command}: ${result.error.message}`);
  return result;
}

function toolVersions() {
  const result = run(KUBECTL, ['version', '--client', '--output=json']);
  if (result.status !== 0) throw new Error(`${KUBECTL} version failed:\n${result.stderr}`);
  const version = JSON.parse(result.stdout);
  const require = createRequire(import.meta.url);
  return {
    kubectl: version.clientVersion?.gitVersion ?? 'unknown',
    kustomize: version.kustomizeVersion ?? 'unknown',
    models: require('kubernetes-models/package.json').version,
  };
}

function ensureDevSigningKey() {
  if (!existsSync(join(overlaysDir, 'dev')) || existsSync(DEV_SIGNING_KEY)) return;
  mkdirSync(dirname(DEV_SIGNING_KEY), { recursive: true });
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  writeFileSync(DEV_SIGNING_KEY, privateKey, { mode: 0o600 });
  process.stdout.write(
    `k8s: created a throwaway dev signing key, ${relative(root, DEV_SIGNING_KEY)} (git-ignored)\n`,
  );
}

function render(overlay) {
  const result = run(KUBECTL, ['kustomize', join(overlaysDir, overlay)]);
  if (result.status !== 0) {
    throw new Error(`kubectl kustomize deploy/overlays/${overlay} failed:\n${result.stderr}`);
  }
  return parseAllDocuments(result.stdout).flatMap((document) => {
    if (document.errors.length > 0) {
      throw new Error(`unreadable YAML from kustomize: ${document.errors[0].message}`);
    }
    const object = document.toJS();
    // Kustomize wraps long base64 values over several lines; the API server's decoder skips the line breaks.
    if (object?.kind === 'Secret') {
      for (const key of Object.keys(object.data ?? {}))
        object.data[key] = object.data[key].replace(/[\r\n]/g, '');
    }
    return object ? [object] : [];
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Schema validation

const models = new Map();

async function loadModels(objects) {
  for (const { apiVersion, kind } of objects) {
    const key = `${apiVersion}/${kind}`;
    if (models.has(key) || !KINDS[apiVersion]?.includes(kind)) continue;
    const module = await import(`${MODEL_PACKAGES[apiVersion] ?? 'kubernetes-models'}/${apiVersion}/${kind}`);
    models.set(key, module[kind]);
  }
}

/**
 * Runs the kind's compiled validator on a proxy of the object that records which fields the validator reads.
 * Generated validators read every property their schema declares and enumerate the keys of maps (labels, data,
 * resource quantities), so a key of a structured object that was never read is a field Kubernetes does not know.
 */
function schemaProblems(object) {
  const model = models.get(`${object.apiVersion}/${object.kind}`);
  if (!model) {
    const allowed = Object.entries(KINDS).flatMap(([version, kinds]) =>
      kinds.map((kind) => `${version} ${kind}`),
    );
    return [
      `${object.apiVersion} ${object.kind} is not one of the kinds allowed here (${allowed.join(', ')})`,
    ];
  }
  const read = new WeakMap();
  const enumerated = new WeakSet();
  const proxies = new WeakMap();
  const track = (value) => {
    if (value === null || typeof value !== 'object') return value;
    if (!proxies.has(value)) {
      read.set(value, new Set());
      const note = (target, key) => typeof key === 'string' && read.get(target).add(key);
      proxies.set(
        value,
        new Proxy(value, {
          get: (target, key, receiver) => (note(target, key), track(Reflect.get(target, key, receiver))),
          has: (target, key) => (note(target, key), Reflect.has(target, key)),
          ownKeys: (target) => (enumerated.add(target), Reflect.ownKeys(target)),
        }),
      );
    }
    return proxies.get(value);
  };

  const problems = [];
  try {
    model.prototype.validate.call(track(object));
  } catch (error) {
    problems.push(
      ...String(error.message)
        .split(', ')
        .map((message) => `schema: ${message}`),
    );
  }
  const walk = (value, path) => {
    if (value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) return value.forEach((item, index) => walk(item, `${path}[${index}]`));
    const keys = read.get(value);
    if (keys && keys.size > 0 && !enumerated.has(value)) {
      for (const key of Object.keys(value)) {
        if (!keys.has(key)) problems.push(`schema: unknown field ${path}.${key}`);
      }
    }
    for (const [key, child] of Object.entries(value)) walk(child, `${path}.${key}`);
  };
  walk(object, '');
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// The configuration table (docs/CONFIGURATION.md)

function readmeVariables() {
  const readme = readFileSync(join(root, 'docs/CONFIGURATION.md'), 'utf8');
  const start = readme.indexOf('\n## Configuration');
  if (start < 0) throw new Error('docs/CONFIGURATION.md has no "## Configuration" section');
  const end = readme.indexOf('\n## ', start + 1);
  const services = { all: Object.keys(APPS), CLI: [CLI] };
  for (const [app, { readme: name }] of Object.entries(APPS)) services[name] = [app];
  const variables = [];
  for (const line of readme.slice(start, end < 0 ? undefined : end).split('\n')) {
    const match = /^\|\s*`([A-Z][A-Z0-9_]*)`([^|]*)\|([^|]*)\|[^|]*\|([^|]*)\|/.exec(line);
    if (!match) continue;
    const [, name, note, column, meaning] = match;
    const apps = column.split(',').flatMap((token) => {
      const known = services[token.trim()];
      if (!known)
        throw new Error(`docs/CONFIGURATION.md: ${name} names an unknown service "${token.trim()}"`);
      return known;
    });
    const sensitive = note.includes('(sensitive)') || /^\s*sensitive\b/.test(meaning);
    variables.push({ name, sensitive, apps });
  }
  if (variables.length === 0) throw new Error('docs/CONFIGURATION.md: no variables found in its table');
  return variables;
}

// ---------------------------------------------------------------------------------------------------------------
// Rules

const labelsMatch = (selector, labels = {}) =>
  Object.entries(selector?.matchLabels ?? {}).every(([key, value]) => labels[key] === value) &&
  (selector?.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    switch (operator) {
      case 'In':
        return key in labels && values.includes(labels[key]);
      case 'NotIn':
        return !(key in labels) || !values.includes(labels[key]);
      case 'Exists':
        return key in labels;
      case 'DoesNotExist':
        return !(key in labels);
      default:
        return false;
    }
  });

const secretKeys = (secret) => Object.keys({ ...secret.data, ...secret.stringData });

/** Everything a container's environment holds: name -> where the value comes from. */
function environment(container, index, problem) {
  const env = new Map();
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) {
      const configMap = index.get('ConfigMap', source.configMapRef.name);
      if (!configMap) problem(`envFrom ConfigMap ${source.configMapRef.name} is not rendered`);
      for (const [name, value] of Object.entries(configMap?.data ?? {})) {
        env.set(name, { from: 'configmap', value, source: source.configMapRef.name });
      }
    }
    if (source.secretRef) {
      const secret = index.secret(source.secretRef.name, null, problem);
      for (const name of secret ?? []) env.set(name, { from: 'secret', source: source.secretRef.name });
    }
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (from?.secretKeyRef) {
      const { name, key, optional } = from.secretKeyRef;
      index.secret(name, key, problem, { optional });
      env.set(variable.name, { from: 'secret', source: from.secretKeyRef.name });
    } else if (from?.configMapKeyRef) {
      const configMap = index.get('ConfigMap', from.configMapKeyRef.name);
      const value = configMap?.data?.[from.configMapKeyRef.key];
      if (value === undefined) {
        problem(`${variable.name}: ConfigMap key ${from.configMapKeyRef.key} is not rendered`);
      }
      env.set(variable.name, { from: 'configmap', value, source: from.configMapKeyRef.name });
    } else {
      env.set(variable.name, { from: from ? 'field' : 'literal', value: variable.value });
    }
  }
  return env;
}

function checkPod(template, index, problem, { overlay }) {
  const pod = template.spec;
  for (const volume of pod.volumes ?? []) {
    if (volume.secret) index.secret(volume.secret.secretName, null, problem);
    if (volume.configMap && !index.get('ConfigMap', volume.configMap.name)) {
      problem(`volume ${volume.name}: ConfigMap ${volume.configMap.name} is not rendered`);
    }
  }
  if (pod.automountServiceAccountToken !== false) problem('automountServiceAccountToken must be false');
  const context = pod.securityContext ?? {};
  if (context.runAsNonRoot !== true) problem('pod securityContext.runAsNonRoot must be true');
  if (!Number.isInteger(context.runAsUser) || context.runAsUser === 0) {
    problem('pod securityContext.runAsUser must be a non-zero uid (the images run as a named user)');
  }
  if (context.seccompProfile?.type !== 'RuntimeDefault') problem('pod seccompProfile must be RuntimeDefault');
  for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
    const where = `container ${container.name}`;
    const security = container.securityContext ?? {};
    if (security.runAsNonRoot === false) problem(`${where}: runAsNonRoot is false`);
    if (security.readOnlyRootFilesystem !== true) problem(`${where}: readOnlyRootFilesystem must be true`);
    if (security.allowPrivilegeEscalation !== false) {
      problem(`${where}: allowPrivilegeEscalation must be false`);
    }
    if (!security.capabilities?.drop?.includes('ALL')) problem(`${where}: capabilities must drop ALL`);
    if (security.capabilities?.add?.length) problem(`${where}: adds capabilities`);
    for (const kind of ['requests', 'limits']) {
      for (const resource of ['cpu', 'memory']) {
        if (!container.resources?.[kind]?.[resource]) problem(`${where}: no resources.${kind}.${resource}`);
      }
    }
    const image = container.image ?? '';
    const tag = /@sha256:[0-9a-f]{64}$/.test(image) ? 'digest' : /:([^:/]+)$/.exec(image)?.[1];
    if (!tag) problem(`${where}: image ${image} has no tag or digest`);
    if (overlay === 'prod' && tag === 'latest') problem(`${where}: prod pins image tags, not latest`);
  }
}

/** A generator's name: `<name>-<hash of the content>`, 10 characters of Kustomize's alphabet. */
const GENERATED_NAME = /-[bcdfghkmt2-9]{10}$/;
const RELOADER = 'reloader.stakater.com/auto';
const syncWave = (object) => Number(object.metadata?.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0);

/** Every ConfigMap and Secret a pod reads: envFrom, env valueFrom, volumes (projected too). */
function podReferences(pod) {
  const references = [];
  const add = (kind, name) => name && references.push({ kind, name });
  for (const container of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
    for (const source of container.envFrom ?? []) {
      add('ConfigMap', source.configMapRef?.name);
      add('Secret', source.secretRef?.name);
    }
    for (const entry of container.env ?? []) {
      add('ConfigMap', entry.valueFrom?.configMapKeyRef?.name);
      add('Secret', entry.valueFrom?.secretKeyRef?.name);
    }
  }
  for (const volume of pod.volumes ?? []) {
    add('ConfigMap', volume.configMap?.name);
    add('Secret', volume.secret?.secretName);
    for (const source of volume.projected?.sources ?? []) {
      add('ConfigMap', source.configMap?.name);
      add('Secret', source.secret?.name);
    }
  }
  const seen = new Set();
  return references.filter(({ kind, name }) => !seen.has(`${kind}/${name}`) && seen.add(`${kind}/${name}`));
}

function checkOverlay(overlay, objects, variables) {
  const problems = [];
  const problemFor = (object) => (message) =>
    problems.push(`${overlay}: ${object ? `${object.kind}/${object.metadata?.name}: ` : ''}${message}`);
  const problem = problemFor(null);

  const byKind = (kind) => objects.filter((object) => object.kind === kind);
  const index = {
    get: (kind, name) => objects.find((object) => object.kind === kind && object.metadata?.name === name),
    /**
     * The keys of a Secret (for an external one, the keys it is documented to have), after checking that it
     * exists and holds `key`; an `optional` key may be missing from a rendered Secret.
     */
    secret(name, key, report, { optional = false } = {}) {
      const rendered = index.get('Secret', name);
      const external = EXTERNAL_SECRETS[overlay]?.[name];
      if (!rendered && !external) {
        report(`Secret ${name} is neither rendered nor listed as created outside (EXTERNAL_SECRETS)`);
      } else if (key !== null && !(rendered && optional)) {
        const keys = rendered ? secretKeys(rendered) : external;
        if (!keys.includes(key)) report(`Secret ${name} has no key ${key}`);
      }
      return rendered ? secretKeys(rendered) : external;
    },
  };

  // Every object: schema, namespace, labels.
  const namespaces = byKind('Namespace');
  if (namespaces.length !== 1) problem(`renders ${namespaces.length} Namespaces, expected 1`);
  const namespace = namespaces[0]?.metadata.name;
  if (namespaces[0]?.metadata.labels?.['pod-security.kubernetes.io/enforce'] !== 'restricted') {
    problem('the Namespace must enforce the "restricted" Pod Security Standard');
  }
  const seen = new Set();
  for (const object of objects) {
    const report = problemFor(object);
    for (const message of schemaProblems(object)) report(message);
    const id = `${object.kind}/${object.metadata?.name}`;
    if (seen.has(id)) report('rendered twice');
    seen.add(id);
    if (object.kind !== 'Namespace' && object.metadata?.namespace !== namespace) {
      report(`namespace ${object.metadata?.namespace} is not the overlay's (${namespace})`);
    }
    if (object.metadata?.labels?.['app.kubernetes.io/part-of'] !== 'gatehouse') {
      report('no app.kubernetes.io/part-of=gatehouse label');
    }
  }
  for (const configMap of byKind('ConfigMap')) {
    for (const [key, value] of Object.entries(configMap.data ?? {})) {
      if (/PRIVATE KEY/.test(value) || key === 'JWT_SIGNING_KEY') {
        problemFor(configMap)(`${key}: a signing key must come from a Secret, never a ConfigMap`);
      }
    }
  }

  // Each app: Deployment, Service, HPA and PDB, its configuration, its upstreams.
  const services = byKind('Service');
  const deployments = byKind('Deployment');
  for (const [app, spec] of Object.entries(APPS)) {
    const deployment = index.get('Deployment', app);
    if (!deployment) {
      problem(`no Deployment ${app}`);
      continue;
    }
    const report = problemFor(deployment);
    const template = deployment.spec.template;
    const podLabels = template.metadata?.labels ?? {};
    if (!labelsMatch(deployment.spec.selector, podLabels)) report('selector does not match its pod labels');
    if (podLabels['app.kubernetes.io/name'] !== app) {
      report(`pods must be labelled app.kubernetes.io/name=${app}`);
    }
    checkPod(template, index, report, { overlay });
    if (deployment.spec.replicas !== undefined) {
      report('sets replicas, which its HorizontalPodAutoscaler owns');
    }
    const strategy = deployment.spec.strategy;
    if (strategy?.type !== 'RollingUpdate' || ![0, '0%'].includes(strategy.rollingUpdate?.maxUnavailable)) {
      report('must roll out with strategy RollingUpdate and maxUnavailable 0');
    }
    const grace = template.spec.terminationGracePeriodSeconds;
    if (!(grace >= 30)) report('terminationGracePeriodSeconds must be at least 30');

    const containers = template.spec.containers;
    const container = containers.find((candidate) => candidate.name === app) ?? containers[0];
    if (
      !container.image?.startsWith(`gatehouse/${app}:`) &&
      !container.image?.includes(`/gatehouse/${app}`)
    ) {
      report(`runs image ${container.image}, not gatehouse/${app}`);
    }
    const httpPort = container.ports?.find((port) => port.name === 'http');
    if (httpPort?.containerPort !== spec.port) report(`container port "http" must be ${spec.port}`);
    const managementPort = container.ports?.find((port) => port.name === MANAGEMENT_PORT_NAME);
    if (managementPort?.containerPort !== spec.managementPort) {
      report(`container port "${MANAGEMENT_PORT_NAME}" must be ${spec.managementPort} (MANAGEMENT_PORT)`);
    }
    const probePort = (probe) =>
      probe.httpGet.port === 'http' ||
      probe.httpGet.port === spec.port ||
      probe.httpGet.port === `${spec.port}`;
    for (const [probe, path] of [
      ['startupProbe', '/health/live'],
      ['livenessProbe', '/health/live'],
      ['readinessProbe', '/health/ready'],
    ]) {
      const settings = container[probe];
      if (!settings) report(`no ${probe}`);
      else if (settings.httpGet?.path !== path || !probePort(settings)) {
        report(`${probe} must GET ${path} on port ${spec.port}`);
      }
    }
    const preStop = container.lifecycle?.preStop;
    const pause = Number(preStop?.exec?.command?.at(-1) ?? preStop?.sleep?.seconds);
    if (!preStop) report('no preStop hook: endpoints would not drain before SIGTERM');
    else if (!(pause < grace)) report('the preStop pause must end within terminationGracePeriodSeconds');

    // Configuration: fixed values, every README variable, secrets from Secrets.
    const env = environment(container, index, report);
    const ports = { PORT: `${spec.port}`, MANAGEMENT_PORT: `${spec.managementPort}` };
    for (const [name, value] of Object.entries({ ...FIXED_VALUES, ...ports })) {
      if (env.get(name)?.value !== value) report(`${name} must be ${value}`);
    }
    for (const variable of variables.filter(({ apps }) => apps.includes(app))) {
      const wired = env.get(variable.name);
      const reason = NOT_WIRED[app]?.[variable.name];
      if (reason) {
        if (wired) report(`${variable.name} is set, but ${reason}`);
      } else if (!wired) {
        if (OPTIONAL.has(variable.name)) continue;
        report(
          `${variable.name} (README.md, configuration table) is not wired: add it to deploy/components/${app} ` +
            `or, if deliberate, to NOT_WIRED in tools/k8s/validate.mjs`,
        );
      } else if (variable.sensitive && wired.from !== 'secret') {
        report(`${variable.name} is sensitive and must come from a Secret, not a ${wired.from}`);
      }
    }
    const ownConfigMaps = byKind('ConfigMap').filter(
      (c) => c.metadata.labels?.['app.kubernetes.io/name'] === app,
    );
    for (const configMap of ownConfigMaps) {
      const users = deployments.filter((other) =>
        JSON.stringify(other.spec.template.spec).includes(`"${configMap.metadata.name}"`),
      );
      if (users.some((other) => other.metadata.name !== app)) {
        report(
          `its ConfigMap ${configMap.metadata.name} is used by another Deployment: it could not upgrade alone`,
        );
      }
    }
    // Upstream URLs must name a rendered Service on its port.
    for (const [name, { value }] of env) {
      if (!/_URL$/.test(name) || !value || !/^https?:\/\/[a-z0-9-]+(:\d+)?(\/|$)/.test(value)) continue;
      const url = new URL(value);
      const target = services.find((service) => service.metadata.name === url.hostname);
      // A host that is no Service here is outside the namespace (e.g. the dev placeholders for PostgreSQL).
      if (!target) continue;
      if (!target.spec.ports.some((port) => `${port.port}` === (url.port || '80'))) {
        report(`${name}=${value}: Service ${url.hostname} does not listen on port ${url.port || 80}`);
      }
    }

    // The signing key: a file from a Secret volume, never a variable.
    if (app === 'auth-service') {
      const file = env.get('JWT_SIGNING_KEY_FILE')?.value;
      const mount =
        file && container.volumeMounts?.find((m) => file.startsWith(`${m.mountPath.replace(/\/$/, '')}/`));
      const volume = mount && template.spec.volumes?.find((v) => v.name === mount.name);
      if (env.has('JWT_SIGNING_KEY')) {
        report('JWT_SIGNING_KEY is a variable: the key must be a file from a Secret');
      }
      if (!file) {
        report('JWT_SIGNING_KEY_FILE is not set');
      } else if (!volume?.secret) {
        report(`JWT_SIGNING_KEY_FILE=${file} is not inside a volume mounted from a Secret`);
      } else {
        const relativePath = file.slice(mount.mountPath.replace(/\/$/, '').length + 1);
        const item = volume.secret.items?.find((candidate) => candidate.path === relativePath);
        const keys = index.secret(volume.secret.secretName, item ? item.key : null, report);
        if (!item && keys && !keys.includes(relativePath)) {
          report(`Secret ${volume.secret.secretName} has no key ${relativePath}`);
        }
      }
    }

    // Service, HorizontalPodAutoscaler, PodDisruptionBudget of this app.
    const service = index.get('Service', app);
    if (!service) report(`no Service ${app}`);
    else {
      const type = service.spec.type ?? 'ClusterIP';
      if (spec.callers !== 'anywhere' && type !== 'ClusterIP') {
        report(`Service ${app} is ${type}: only the gateway is exposed`);
      }
      if (!labelsMatch({ matchLabels: service.spec.selector }, podLabels)) {
        report(`Service ${app} selects no pod of it`);
      }
      const port = service.spec.ports?.find((candidate) => candidate.port === spec.port);
      if (!port || ![spec.port, 'http'].includes(port.targetPort ?? port.port)) {
        report(`Service ${app} must forward port ${spec.port} to the container's`);
      }
      // Scrapes reach each pod through the PodMonitor: a Service port would put /metrics behind the public name.
      for (const exposed of service.spec.ports ?? []) {
        if ([spec.managementPort, MANAGEMENT_PORT_NAME].includes(exposed.targetPort ?? exposed.port)) {
          report(`Service ${app} exposes the management port (${exposed.port}): /metrics stays off Services`);
        }
      }
    }
    const hpas = byKind('HorizontalPodAutoscaler').filter(
      (hpa) => hpa.spec.scaleTargetRef.kind === 'Deployment' && hpa.spec.scaleTargetRef.name === app,
    );
    if (hpas.length !== 1) report(`${hpas.length} HorizontalPodAutoscalers target it, expected 1`);
    const minReplicas = hpas[0]?.spec.minReplicas ?? 1;
    if (hpas[0] && !(minReplicas <= hpas[0].spec.maxReplicas)) report('HPA minReplicas exceeds maxReplicas');
    if (overlay === 'prod' && minReplicas < 2) report('prod runs at least two replicas (HPA minReplicas)');
    const pdbs = byKind('PodDisruptionBudget').filter((pdb) => labelsMatch(pdb.spec.selector, podLabels));
    if (pdbs.length !== 1) report(`${pdbs.length} PodDisruptionBudgets select its pods, expected 1`);
    const minAvailable = pdbs[0]?.spec.minAvailable;
    if (Number.isInteger(minAvailable) && minAvailable >= minReplicas) {
      report('PodDisruptionBudget minAvailable >= HPA minReplicas: nodes could never be drained');
    }
  }
  const unexpected = deployments.filter((deployment) => !APPS[deployment.metadata.name]);
  for (const deployment of unexpected) problemFor(deployment)('is not one of the apps this validator knows');

  // Configuration changes roll the pods: what the overlay renders is referenced by its generated (hashed) name, and
  // an external Secret, which has no hash, is watched by Reloader (docs/KUBERNETES.md).
  for (const owner of [...deployments, ...byKind('Job')]) {
    for (const { kind, name } of podReferences(owner.spec.template.spec)) {
      const rendered = index.get(kind, name);
      if (rendered && !GENERATED_NAME.test(name)) {
        problemFor(owner)(
          `references ${kind} ${name}, not a generated (hashed) name: a change would not roll it`,
        );
      }
      if (!rendered && owner.kind === 'Deployment' && owner.metadata.annotations?.[RELOADER] !== 'true') {
        problemFor(owner)(`references the external ${kind} ${name} without ${RELOADER}: "true"`);
      }
    }
  }

  // The migration Job.
  const jobs = byKind('Job');
  if (jobs.length !== 1) problem(`renders ${jobs.length} Jobs, expected 1 (the migration)`);
  for (const job of jobs) {
    const report = problemFor(job);
    const pod = job.spec.template.spec;
    checkPod(job.spec.template, index, report, { overlay });
    const [container] = pod.containers;
    if (!/(^|\/)gatehouse\/gatehouse-cli[:@]/.test(container.image)) {
      report('must run the gatehouse-cli image');
    }
    if (JSON.stringify(container.args ?? container.command) !== '["migrate"]') {
      report('args must be ["migrate"]');
    }
    if (pod.restartPolicy !== 'Never') report('restartPolicy must be Never (the Job retries with new pods)');
    // One Job per release, so that no tool has to delete the previous one (deploy/base/migrate-job.yaml).
    const tag = /:([^:@/]+)(@|$)/.exec(container.image)?.[1];
    if (!tag || job.metadata.name !== `gatehouse-migrate-${tag}`) {
      report(
        `must be named gatehouse-migrate-<gatehouse-cli tag> (gatehouse-migrate-${tag ?? '?'}): one Job per release`,
      );
    } else if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(job.metadata.name) || job.metadata.name.length > 63) {
      report('its name (from the image tag) is not a valid Job name of at most 63 characters');
    }
    if (job.spec.ttlSecondsAfterFinished !== undefined) {
      report(
        'ttlSecondsAfterFinished: Argo CD and Flux would re-create (and re-run) the Job the TTL deletes',
      );
    }
    if (!Number.isInteger(job.spec.backoffLimit)) report('no backoffLimit');
    // Argo CD: the Job completes before the apps (wave 0) roll, and what it reads is applied in its wave or before.
    if (syncWave(job) !== -1) report('needs the annotation argocd.argoproj.io/sync-wave: "-1"');
    for (const { kind, name } of podReferences(pod)) {
      const read = index.get(kind, name);
      if (read && !(syncWave(read) <= -1)) {
        report(`reads ${kind} ${name}, which must be in Argo CD sync wave -1 or earlier, as the Job is`);
      }
    }
    const env = environment(container, index, report);
    for (const variable of variables.filter(({ apps }) => apps.includes(CLI))) {
      const wired = env.get(variable.name);
      const reason = NOT_WIRED[CLI]?.[variable.name];
      if (reason) {
        if (wired) report(`${variable.name} is set, but ${reason}`);
      } else if (!wired) {
        report(`${variable.name} (README.md, configuration table) is not wired`);
      } else if (variable.sensitive && wired.from !== 'secret') {
        report(`${variable.name} must come from a Secret`);
      }
    }
  }

  // NetworkPolicies: who can open a connection to each group of pods.
  const policies = byKind('NetworkPolicy');
  const ingressPolicy = (policy) =>
    policy.spec.policyTypes ? policy.spec.policyTypes.includes('Ingress') : true;
  const denyAll = policies.some(
    (policy) =>
      ingressPolicy(policy) &&
      Object.keys(policy.spec.podSelector ?? {}).length === 0 &&
      !(policy.spec.ingress ?? []).length,
  );
  if (!denyAll) problem('no default-deny ingress NetworkPolicy (podSelector {} without ingress rules)');
  const groups = [
    ...deployments.map((d) => ({ name: d.metadata.name, labels: d.spec.template.metadata?.labels ?? {} })),
    ...jobs.map((j) => ({ name: `Job/${j.metadata.name}`, labels: j.spec.template.metadata?.labels ?? {} })),
  ];
  for (const group of groups) {
    const report = (message) => problems.push(`${overlay}: NetworkPolicy: ${group.name}: ${message}`);
    const selecting = policies.filter(
      (policy) => ingressPolicy(policy) && labelsMatch(policy.spec.podSelector, group.labels),
    );
    if (selecting.length === 0) report('no NetworkPolicy isolates these pods');
    let fromAnywhere = false;
    const callers = new Set();
    const ports = new Set();
    const scrapers = new Set();
    const managementPort = APPS[group.name]?.managementPort;
    const isManagement = (port) => port.port === MANAGEMENT_PORT_NAME || port.port === managementPort;
    for (const rule of selecting.flatMap((policy) => policy.spec.ingress ?? [])) {
      // A rule for the management port alone: scrapes, from the monitoring namespace and nowhere else.
      if ((rule.ports ?? []).length > 0 && rule.ports.every(isManagement)) {
        const peers = rule.from ?? [];
        if (peers.length === 0)
          report('its management port is open to anyone: only a monitoring namespace may scrape');
        for (const peer of peers) {
          const namespaces = peer.namespaceSelector;
          if (!namespaces || peer.ipBlock) {
            report(
              'its management port admits a peer that is not a namespaceSelector (the monitoring namespace)',
            );
          } else if (Object.keys(namespaces).length === 0) {
            report('its management port is open to every namespace: name the monitoring one');
          } else {
            scrapers.add(
              namespaces.matchLabels?.['kubernetes.io/metadata.name'] ?? JSON.stringify(namespaces),
            );
          }
        }
        continue;
      }
      for (const port of rule.ports ?? [{ port: 'every port' }]) ports.add(`${port.port}`);
      const peers = rule.from ?? [];
      if (peers.length === 0) fromAnywhere = true;
      for (const peer of peers) {
        if (peer.ipBlock || peer.namespaceSelector) fromAnywhere = true;
        else if (peer.podSelector) {
          for (const caller of groups.filter((candidate) =>
            labelsMatch(peer.podSelector, candidate.labels),
          )) {
            callers.add(caller.name);
          }
        }
      }
    }
    const expected = APPS[group.name]?.callers ?? [];
    if (expected === 'anywhere') {
      if (!fromAnywhere) report('the gateway must accept connections from outside the namespace');
    } else {
      if (fromAnywhere) report('reachable from outside the namespace: only the gateway may be');
      const actual = [...callers].sort();
      if (JSON.stringify(actual) !== JSON.stringify(expected)) {
        report(`reachable from [${actual.join(', ')}], expected [${expected.join(', ')}]`);
      }
    }
    const port = APPS[group.name]?.port;
    const extra = [...ports].filter((candidate) => candidate !== `${port}` && candidate !== 'http');
    if (extra.length > 0) {
      report(`ingress allowed on port ${extra.join(', ')}, not only on ${port ?? 'none'}`);
    }
    if (APPS[group.name] && scrapers.size === 0) {
      report('no NetworkPolicy admits a monitoring namespace to its management port: it cannot be scraped');
    }
  }

  // PodMonitors: each selects pods of this namespace that have the port it scrapes, and all of them are scraped.
  const scraped = new Set();
  for (const monitor of byKind('PodMonitor')) {
    const report = problemFor(monitor);
    const selected = groups.filter((group) => labelsMatch(monitor.spec.selector, group.labels));
    const namespaceSelector = monitor.spec.namespaceSelector;
    if (
      namespaceSelector?.any ||
      (namespaceSelector?.matchNames ?? [namespace]).some((name) => name !== namespace)
    ) {
      report(`must scrape its own namespace (${namespace}) only`);
    }
    if (selected.length === 0) report('its selector matches no pod of the overlay');
    const endpoints = monitor.spec.podMetricsEndpoints ?? [];
    if (endpoints.length === 0) report('has no podMetricsEndpoints');
    for (const group of selected) {
      const containers = [
        ...(deployments.find((d) => d.metadata.name === group.name)?.spec.template.spec.containers ?? []),
        ...(jobs.find((j) => `Job/${j.metadata.name}` === group.name)?.spec.template.spec.containers ?? []),
      ];
      const portNames = new Set(containers.flatMap((c) => (c.ports ?? []).map((p) => p.name)));
      for (const endpoint of endpoints) {
        if (!endpoint.port || !portNames.has(endpoint.port)) {
          report(
            `scrapes port "${endpoint.port ?? endpoint.targetPort}", which the pods of ${group.name} do not name`,
          );
        } else if (endpoint.port !== MANAGEMENT_PORT_NAME) {
          report(
            `scrapes ${group.name} on port "${endpoint.port}": metrics are on "${MANAGEMENT_PORT_NAME}" only`,
          );
        }
        if ((endpoint.path ?? '/metrics') !== '/metrics')
          report(`scrapes path ${endpoint.path}, not /metrics`);
      }
      scraped.add(group.name);
    }
  }
  if (byKind('PodMonitor').length > 0) {
    for (const app of Object.keys(APPS).filter((name) => !scraped.has(name))) {
      problem(`no PodMonitor scrapes ${app}`);
    }
  }

  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// Self-test: each of these breaks must be reported.

const SELF_TEST = [
  [
    'dev',
    'a Deployment without readiness probe',
    (o) => delete deploymentOf(o, 'findings-service').readinessProbe,
    /no readinessProbe/,
  ],
  [
    'dev',
    'a misspelt field',
    (o) => (podOf(o, 'admin-api').securityContext.runAsNonRot = true),
    /unknown field .*runAsNonRot/,
  ],
  [
    'dev',
    'a wrong type',
    (o) => (find(o, 'HorizontalPodAutoscaler', 'auth-service').spec.minReplicas = 'two'),
    /schema: .*minReplicas must be integer/,
  ],
  [
    'dev',
    'a missing required field',
    (o) => delete find(o, 'Deployment', 'api-gateway').spec.selector,
    /must have required property selector/,
  ],
  [
    'dev',
    'a removed API version',
    (o) => (find(o, 'PodDisruptionBudget', 'admin-api').apiVersion = 'policy/v1beta1'),
    /not one of the kinds allowed/,
  ],
  [
    'dev',
    'admin-api open to everyone',
    (o) => delete find(o, 'NetworkPolicy', 'admin-api-ingress').spec.ingress[0].from,
    /admin-api: reachable from outside/,
  ],
  [
    'dev',
    'no default-deny policy',
    (o) => o.splice(o.indexOf(find(o, 'NetworkPolicy', 'default-deny-ingress')), 1),
    /no default-deny/,
  ],
  [
    'dev',
    'the signing key as a variable',
    (o) => deploymentOf(o, 'auth-service').env.push({ name: 'JWT_SIGNING_KEY', value: 'x' }),
    /JWT_SIGNING_KEY is a variable/,
  ],
  [
    'dev',
    'a sensitive value in a ConfigMap',
    (o) => moveToConfigMap(o, 'admin-api', 'DATABASE_URL'),
    /DATABASE_URL is sensitive/,
  ],
  [
    'dev',
    'an unwired variable',
    (o) => delete find(o, 'ConfigMap', /^findings-service-/).data.JWKS_URL,
    /JWKS_URL .* is not wired/,
  ],
  [
    'dev',
    'a root container',
    (o) => (podOf(o, /^gatehouse-migrate-/, 'Job').securityContext.runAsNonRoot = false),
    /runAsNonRoot must be true/,
  ],
  [
    'dev',
    'replicas next to an HPA',
    (o) => (find(o, 'Deployment', 'api-gateway').spec.replicas = 3),
    /sets replicas/,
  ],
  [
    'dev',
    'a wrong upstream port',
    (o) => (find(o, 'ConfigMap', /^api-gateway-/).data.AUTH_SERVICE_URL = 'http://auth-service:3002'),
    /does not listen on port 3002/,
  ],
  [
    'dev',
    'a management port that does not match MANAGEMENT_PORT',
    (o) => (find(o, 'ConfigMap', /^findings-service-/).data.MANAGEMENT_PORT = '9999'),
    /MANAGEMENT_PORT must be 9002/,
  ],
  [
    'dev',
    'the management port open to everyone',
    (o) => delete find(o, 'NetworkPolicy', 'metrics-scrape-ingress').spec.ingress[0].from,
    /management port is open to anyone/,
  ],
  [
    'dev',
    "the management port in the gateway's public rule",
    (o) => find(o, 'NetworkPolicy', 'api-gateway-ingress').spec.ingress[0].ports.push({ port: 'management' }),
    /api-gateway: ingress allowed on port management/,
  ],
  [
    'dev',
    'no monitoring namespace admitted',
    (o) => o.splice(o.indexOf(find(o, 'NetworkPolicy', 'metrics-scrape-ingress')), 1),
    /admin-api: no NetworkPolicy admits a monitoring namespace/,
  ],
  [
    'dev',
    '/metrics behind a Service',
    (o) =>
      find(o, 'Service', 'auth-service').spec.ports.push({ name: 'm', port: 9001, targetPort: 'management' }),
    /Service auth-service exposes the management port/,
  ],
  [
    'prod',
    'a PodMonitor scraping a port the pods do not name',
    (o) => (find(o, 'PodMonitor', 'gatehouse').spec.podMetricsEndpoints[0].port = 'metrics'),
    /scrapes port "metrics", which the pods of api-gateway do not name/,
  ],
  [
    'prod',
    'a PodMonitor that misses an app',
    (o) => find(o, 'PodMonitor', 'gatehouse').spec.selector.matchExpressions[0].values.pop(),
    /no PodMonitor scrapes admin-api/,
  ],
  [
    'prod',
    'a misspelt PodMonitor field',
    (o) => (find(o, 'PodMonitor', 'gatehouse').spec.podMetricsEndpoints[0].intervall = '30s'),
    /unknown field .*intervall/,
  ],
  [
    'prod',
    'a PodMonitor of a wrong type',
    (o) => (find(o, 'PodMonitor', 'gatehouse').spec.podMetricsEndpoints = 'management'),
    /schema: .*podMetricsEndpoints must be array/,
  ],
  [
    'prod',
    'a latest tag in prod',
    (o) => (deploymentOf(o, 'admin-api').image = 'gatehouse/admin-api:latest'),
    /not latest/,
  ],
  [
    'prod',
    'an undeclared external Secret',
    (o) => (podOf(o, 'auth-service').volumes.find((v) => v.secret).secret.secretName = 'other'),
    /Secret other is neither rendered/,
  ],
  [
    'dev',
    'a ConfigMap referenced without its hash suffix',
    (o) => unhash(o, 'ConfigMap', 'admin-api'),
    /references ConfigMap admin-api, not a generated \(hashed\) name/,
  ],
  [
    'dev',
    'a migration Job with a fixed name',
    (o) => (find(o, 'Job', /^gatehouse-migrate-/).metadata.name = 'gatehouse-migrate'),
    /must be named gatehouse-migrate-<gatehouse-cli tag> \(gatehouse-migrate-latest\)/,
  ],
  [
    'dev',
    'the migration Job after the configuration it reads',
    (o) => delete find(o, 'ConfigMap', /^gatehouse-shared-/).metadata.annotations,
    /reads ConfigMap gatehouse-shared-.*sync wave -1 or earlier/,
  ],
  [
    'prod',
    'an external Secret nothing rolls the pods on',
    (o) => delete find(o, 'Deployment', 'findings-service').metadata.annotations,
    /Deployment\/findings-service: references the external Secret gatehouse-datastores without reloader/,
  ],
];

/** Renames a generated object to its name without the hash, and every reference to it. */
function unhash(objects, kind, prefix) {
  const object = find(objects, kind, new RegExp(`^${prefix}-[a-z0-9]{10}$`));
  const hashed = object.metadata.name;
  object.metadata.name = prefix;
  for (const owner of objects.filter((candidate) => candidate.spec?.template?.spec)) {
    const text = JSON.stringify(owner.spec.template.spec).replaceAll(`"${hashed}"`, `"${prefix}"`);
    owner.spec.template.spec = JSON.parse(text);
  }
}

function find(objects, kind, name) {
  const match = (object) =>
    object.kind === kind &&
    (name instanceof RegExp ? name.test(object.metadata.name) : object.metadata.name === name);
  const object = objects.find(match);
  if (!object) throw new Error(`self-test: no ${kind} ${name}`);
  return object;
}
const podOf = (objects, name, kind = 'Deployment') => find(objects, kind, name).spec.template.spec;
const deploymentOf = (objects, name) => podOf(objects, name).containers[0];
function moveToConfigMap(objects, app, variable) {
  const container = deploymentOf(objects, app);
  container.env = container.env.filter((entry) => entry.name !== variable);
  find(objects, 'ConfigMap', new RegExp(`^${app}-`)).data[variable] = 'postgres://in-the-clear';
}

// ---------------------------------------------------------------------------------------------------------------

const USAGE = `Usage: node tools/k8s/validate.mjs [--self-test] [overlay ...]

Renders each Kustomize overlay under deploy/overlays (all of them unless named) with \`kubectl kustomize\` and
validates every object offline: against the Kubernetes schemas (kubernetes-models, strictly: unknown fields are
errors) and against Gatehouse's rules (probes, resources, non-root read-only pods, rolling updates, one HPA and
PDB per app, every variable of docs/CONFIGURATION.md's table wired from a ConfigMap or, when sensitive, a Secret,
the signing key from a Secret, NetworkPolicies under which only the gateway is reachable from outside).

Options:
  --self-test   also break the rendered overlays in known ways, and fail unless each break is caught
  -h, --help    this text

Environment:
  KUBECTL       the kubectl binary to render with (default: kubectl on the PATH)

Exit status: 0 valid, 1 problems found (listed on stderr), 2 usage error.
`;

/** The arguments, or the exit status when they are a request for help or a usage error. */
function parseArguments(argv) {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const unknown = argv.filter((argument) => argument.startsWith('-') && argument !== '--self-test');
  const missing = argv
    .filter((argument) => !argument.startsWith('-'))
    .filter(
      (overlay) =>
        !existsSync(join(overlaysDir, overlay)) || !statSync(join(overlaysDir, overlay)).isDirectory(),
    );
  if (unknown.length > 0 || missing.length > 0) {
    const problems = [
      ...unknown.map((option) => `unknown option ${option}`),
      ...missing.map((overlay) => `no overlay ${overlay} under deploy/overlays`),
    ];
    process.stderr.write(`k8s: ${problems.join('; ')}\n\n${USAGE}`);
    return 2;
  }
  return {
    selfTest: argv.includes('--self-test'),
    requested: argv.filter((argument) => !argument.startsWith('-')),
  };
}

async function main(argv) {
  const parsed = parseArguments(argv);
  if (typeof parsed === 'number') return parsed;
  const { selfTest, requested } = parsed;
  const overlays = requested.length
    ? requested
    : readdirSync(overlaysDir)
        .filter((name) => statSync(join(overlaysDir, name)).isDirectory())
        .sort();
  const versions = toolVersions();
  const variables = readmeVariables();
  ensureDevSigningKey();

  const rendered = new Map();
  const problems = [];
  const counts = [];
  for (const overlay of overlays) {
    const objects = render(overlay);
    rendered.set(overlay, objects);
    await loadModels(objects);
    problems.push(...checkOverlay(overlay, objects, variables));
    counts.push(`${overlay} ${objects.length}`);
  }

  let caught = 0;
  if (selfTest) {
    for (const [overlay, what, breakIt, expected] of SELF_TEST) {
      if (!rendered.has(overlay)) continue;
      const objects = structuredClone(rendered.get(overlay));
      breakIt(objects);
      await loadModels(objects);
      const found = checkOverlay(overlay, objects, variables);
      if (found.some((message) => expected.test(message))) {
        caught += 1;
      } else {
        problems.push(
          `self-test: ${what} was not caught (${expected}); reported: ${found.join(' | ') || 'nothing'}`,
        );
      }
    }
  }

  for (const message of problems) process.stderr.write(`k8s: ${message}\n`);
  const tools = `kubectl ${versions.kubectl}, kustomize ${versions.kustomize}, kubernetes-models ${versions.models}`;
  const tested = selfTest ? `; self-test: ${caught} of ${SELF_TEST.length} broken variants caught` : '';
  process.stdout.write(
    problems.length === 0
      ? `k8s: objects rendered and valid per overlay: ${counts.join(', ')} (${tools})${tested}\n`
      : `k8s: ${problems.length} problem(s) in the rendered overlays (${counts.join(', ')}; ${tools})\n`,
  );
  return problems.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`k8s: ${error.message}\n`);
    process.exit(1);
  },
);

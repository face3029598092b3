/** What a scan is of. Each part is optional: the server falls back to the SARIF's own `versionControlProvenance`. */
export interface ScanContext {
  repository?: string;
  commit?: string;
  ref?: string;
  tool?: string;
}

export type CiName =
  'github-actions' | 'gitlab-ci' | 'jenkins' | 'azure-pipelines' | 'bitbucket-pipelines' | 'circleci';

export interface DetectedCi {
  ci: CiName;
  /** As people call it, for messages. */
  name: string;
  context: ScanContext;
}

type Env = Readonly<Record<string, string | undefined>>;

const value = (env: Env, name: string): string | undefined => {
  const found = env[name]?.trim();
  return found ? found : undefined;
};

const branchRef = (branch: string | undefined) => (branch ? `refs/heads/${branch}` : undefined);
const tagRef = (tag: string | undefined) => (tag ? `refs/tags/${tag}` : undefined);

/**
 * `owner/name` from a clone URL (`https://host/acme/payments.git`, `git@host:acme/payments.git`,
 * `ssh://git@host:22/acme/payments`), the spelling the other CIs give directly; undefined when it has no path.
 */
export function repositoryFromUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  let path: string;
  const scp = /^[^/@:]+@[^/:]+:(.+)$/.exec(url);
  if (scp) {
    path = scp[1];
  } else {
    try {
      path = new URL(url).pathname;
    } catch {
      return undefined;
    }
  }
  const cleaned = path
    .replace(/^\/+|\/+$/g, '')
    .replace(/\.git$/, '')
    .replace(/^scm\//, '');
  return cleaned ? cleaned : undefined;
}

interface CiDetector {
  ci: CiName;
  name: string;
  present(env: Env): boolean;
  context(env: Env): ScanContext;
}

/**
 * Each CI's own variables, in the order checked (the first present wins). Refs are full git refs, as GitHub and
 * Azure give them: `refs/heads/<branch>`, `refs/tags/<tag>`, or the pull/merge request's ref where the CI has one.
 * docs/CLI.md#ci-detection lists the same table.
 */
const DETECTORS: readonly CiDetector[] = [
  {
    ci: 'github-actions',
    name: 'GitHub Actions',
    present: (env) => value(env, 'GITHUB_ACTIONS') === 'true',
    context: (env) => ({
      repository: value(env, 'GITHUB_REPOSITORY'),
      commit: value(env, 'GITHUB_SHA'),
      ref: value(env, 'GITHUB_REF'),
    }),
  },
  {
    ci: 'gitlab-ci',
    name: 'GitLab CI',
    present: (env) => value(env, 'GITLAB_CI') === 'true',
    context: (env) => {
      const mergeRequest = value(env, 'CI_MERGE_REQUEST_IID');
      return {
        repository: value(env, 'CI_PROJECT_PATH'),
        commit: value(env, 'CI_COMMIT_SHA'),
        ref: mergeRequest
          ? `refs/merge-requests/${mergeRequest}/head`
          : (tagRef(value(env, 'CI_COMMIT_TAG')) ??
            branchRef(value(env, 'CI_COMMIT_BRANCH') ?? value(env, 'CI_COMMIT_REF_NAME'))),
      };
    },
  },
  {
    ci: 'azure-pipelines',
    name: 'Azure Pipelines',
    present: (env) => value(env, 'TF_BUILD')?.toLowerCase() === 'true',
    context: (env) => ({
      repository: value(env, 'BUILD_REPOSITORY_NAME'),
      commit: value(env, 'BUILD_SOURCEVERSION'),
      ref: value(env, 'BUILD_SOURCEBRANCH'),
    }),
  },
  {
    ci: 'bitbucket-pipelines',
    name: 'Bitbucket Pipelines',
    present: (env) => value(env, 'BITBUCKET_BUILD_NUMBER') !== undefined,
    context: (env) => ({
      repository: value(env, 'BITBUCKET_REPO_FULL_NAME'),
      commit: value(env, 'BITBUCKET_COMMIT'),
      ref: tagRef(value(env, 'BITBUCKET_TAG')) ?? branchRef(value(env, 'BITBUCKET_BRANCH')),
    }),
  },
  {
    ci: 'circleci',
    name: 'CircleCI',
    present: (env) => value(env, 'CIRCLECI') === 'true',
    context: (env) => {
      const owner = value(env, 'CIRCLE_PROJECT_USERNAME');
      const name = value(env, 'CIRCLE_PROJECT_REPONAME');
      return {
        repository:
          owner && name ? `${owner}/${name}` : repositoryFromUrl(value(env, 'CIRCLE_REPOSITORY_URL')),
        commit: value(env, 'CIRCLE_SHA1'),
        ref: tagRef(value(env, 'CIRCLE_TAG')) ?? branchRef(value(env, 'CIRCLE_BRANCH')),
      };
    },
  },
  {
    // Last: its variables are plain names (BRANCH_NAME, GIT_COMMIT) that another CI's job may also set.
    ci: 'jenkins',
    name: 'Jenkins',
    present: (env) => value(env, 'JENKINS_URL') !== undefined,
    context: (env) => {
      const change = value(env, 'CHANGE_ID');
      const gitBranch = value(env, 'GIT_BRANCH')?.replace(/^(refs\/heads\/|origin\/)/, '');
      return {
        repository: repositoryFromUrl(value(env, 'GIT_URL')),
        commit: value(env, 'GIT_COMMIT'),
        ref: change
          ? `refs/pull/${change}/head`
          : (tagRef(value(env, 'TAG_NAME')) ?? branchRef(value(env, 'BRANCH_NAME') ?? gitBranch)),
      };
    },
  },
];

/** The CI this process runs in, and the scan context it tells; undefined outside the CIs known. */
export function detectCi(env: Env): DetectedCi | undefined {
  const detector = DETECTORS.find((candidate) => candidate.present(env));
  if (!detector) return undefined;
  const context = Object.fromEntries(
    Object.entries(detector.context(env)).filter(([, part]) => part !== undefined),
  ) as ScanContext;
  return { ci: detector.ci, name: detector.name, context };
}

/** Flags win over what the CI says, part by part. */
export function resolveScanContext(flags: ScanContext, detected: DetectedCi | undefined): ScanContext {
  const fromCi = detected?.context ?? {};
  const context: ScanContext = {
    repository: flags.repository ?? fromCi.repository,
    commit: flags.commit ?? fromCi.commit,
    ref: flags.ref ?? fromCi.ref,
    tool: flags.tool ?? fromCi.tool,
  };
  return Object.fromEntries(Object.entries(context).filter(([, part]) => part !== undefined));
}

import { detectCi, repositoryFromUrl, resolveScanContext } from './ci-env';

describe('detectCi', () => {
  it('reads GitHub Actions: GITHUB_REPOSITORY, GITHUB_SHA, GITHUB_REF', () => {
    expect(
      detectCi({
        GITHUB_ACTIONS: 'true',
        GITHUB_REPOSITORY: 'acme/payments',
        GITHUB_SHA: '9fceb02',
        GITHUB_REF: 'refs/pull/7/merge',
      }),
    ).toEqual({
      ci: 'github-actions',
      name: 'GitHub Actions',
      context: { repository: 'acme/payments', commit: '9fceb02', ref: 'refs/pull/7/merge' },
    });
  });

  it('reads GitLab CI: a branch, a tag, or a merge request', () => {
    const base = { GITLAB_CI: 'true', CI_PROJECT_PATH: 'acme/platform/payments', CI_COMMIT_SHA: 'abc' };
    expect(detectCi({ ...base, CI_COMMIT_BRANCH: 'main', CI_COMMIT_REF_NAME: 'main' })?.context).toEqual({
      repository: 'acme/platform/payments',
      commit: 'abc',
      ref: 'refs/heads/main',
    });
    expect(detectCi({ ...base, CI_COMMIT_TAG: 'v1.2.0', CI_COMMIT_REF_NAME: 'v1.2.0' })?.context.ref).toBe(
      'refs/tags/v1.2.0',
    );
    expect(
      detectCi({ ...base, CI_MERGE_REQUEST_IID: '12', CI_COMMIT_REF_NAME: 'feature/x' })?.context.ref,
    ).toBe('refs/merge-requests/12/head');
  });

  it('reads Jenkins: GIT_URL, GIT_COMMIT, and BRANCH_NAME, GIT_BRANCH, TAG_NAME or CHANGE_ID', () => {
    const base = {
      JENKINS_URL: 'https://ci.example.com/',
      GIT_URL: 'git@github.com:acme/payments.git',
      GIT_COMMIT: 'def',
    };
    expect(detectCi({ ...base, GIT_BRANCH: 'origin/main' })).toEqual({
      ci: 'jenkins',
      name: 'Jenkins',
      context: { repository: 'acme/payments', commit: 'def', ref: 'refs/heads/main' },
    });
    expect(detectCi({ ...base, BRANCH_NAME: 'release/2', GIT_BRANCH: 'origin/release/2' })?.context.ref).toBe(
      'refs/heads/release/2',
    );
    expect(detectCi({ ...base, TAG_NAME: 'v3', BRANCH_NAME: 'v3' })?.context.ref).toBe('refs/tags/v3');
    expect(detectCi({ ...base, CHANGE_ID: '41', BRANCH_NAME: 'PR-41' })?.context.ref).toBe(
      'refs/pull/41/head',
    );
  });

  it('reads Azure Pipelines: BUILD_REPOSITORY_NAME, BUILD_SOURCEVERSION, BUILD_SOURCEBRANCH', () => {
    expect(
      detectCi({
        TF_BUILD: 'True',
        BUILD_REPOSITORY_NAME: 'acme/payments',
        BUILD_SOURCEVERSION: '123',
        BUILD_SOURCEBRANCH: 'refs/heads/main',
      }),
    ).toEqual({
      ci: 'azure-pipelines',
      name: 'Azure Pipelines',
      context: { repository: 'acme/payments', commit: '123', ref: 'refs/heads/main' },
    });
  });

  it('reads Bitbucket Pipelines: BITBUCKET_REPO_FULL_NAME, BITBUCKET_COMMIT, a branch or a tag', () => {
    const base = {
      BITBUCKET_BUILD_NUMBER: '5',
      BITBUCKET_REPO_FULL_NAME: 'acme/payments',
      BITBUCKET_COMMIT: 'fed',
    };
    expect(detectCi({ ...base, BITBUCKET_BRANCH: 'main' })?.context).toEqual({
      repository: 'acme/payments',
      commit: 'fed',
      ref: 'refs/heads/main',
    });
    expect(detectCi({ ...base, BITBUCKET_TAG: 'v1' })?.context.ref).toBe('refs/tags/v1');
  });

  it('reads CircleCI: the project, CIRCLE_SHA1, a branch or a tag', () => {
    expect(
      detectCi({
        CIRCLECI: 'true',
        CIRCLE_PROJECT_USERNAME: 'acme',
        CIRCLE_PROJECT_REPONAME: 'payments',
        CIRCLE_SHA1: '777',
        CIRCLE_BRANCH: 'main',
      })?.context,
    ).toEqual({ repository: 'acme/payments', commit: '777', ref: 'refs/heads/main' });
    expect(
      detectCi({
        CIRCLECI: 'true',
        CIRCLE_REPOSITORY_URL: 'https://github.com/acme/payments',
        CIRCLE_SHA1: '777',
        CIRCLE_TAG: 'v9',
      })?.context,
    ).toEqual({ repository: 'acme/payments', commit: '777', ref: 'refs/tags/v9' });
  });

  it('finds nothing outside a CI, and leaves out what a CI does not say', () => {
    expect(detectCi({ HOME: '/home/me', BRANCH_NAME: 'main' })).toBeUndefined();
    expect(detectCi({ GITHUB_ACTIONS: 'false', GITHUB_SHA: 'x' })).toBeUndefined();
    expect(detectCi({ GITHUB_ACTIONS: 'true', GITHUB_SHA: '  ' })).toEqual({
      ci: 'github-actions',
      name: 'GitHub Actions',
      context: {},
    });
  });

  it("prefers a specific CI's variables to Jenkins's generic ones", () => {
    expect(
      detectCi({ JENKINS_URL: 'https://ci/', GITLAB_CI: 'true', CI_PROJECT_PATH: 'acme/x', GIT_COMMIT: '1' })
        ?.ci,
    ).toBe('gitlab-ci');
  });
});

describe('repositoryFromUrl', () => {
  it.each([
    ['https://github.com/acme/payments.git', 'acme/payments'],
    ['https://github.com/acme/payments/', 'acme/payments'],
    ['git@gitlab.com:acme/platform/payments.git', 'acme/platform/payments'],
    ['ssh://git@bitbucket.example.com:7999/scm/acme/payments.git', 'acme/payments'],
    ['https://dev.azure.com/acme/project/_git/payments', 'acme/project/_git/payments'],
  ])('%s → %s', (url, repository) => {
    expect(repositoryFromUrl(url)).toBe(repository);
  });

  it('gives nothing for what is not a clone URL', () => {
    expect(repositoryFromUrl(undefined)).toBeUndefined();
    expect(repositoryFromUrl('not a url')).toBeUndefined();
    expect(repositoryFromUrl('https://github.com/')).toBeUndefined();
  });
});

describe('resolveScanContext', () => {
  it('takes each part from the flags first, then from the CI', () => {
    const detected = detectCi({
      GITHUB_ACTIONS: 'true',
      GITHUB_REPOSITORY: 'acme/payments',
      GITHUB_SHA: 'abc',
      GITHUB_REF: 'refs/heads/main',
    });
    expect(resolveScanContext({ ref: 'refs/heads/other', tool: 'semgrep' }, detected)).toEqual({
      repository: 'acme/payments',
      commit: 'abc',
      ref: 'refs/heads/other',
      tool: 'semgrep',
    });
    expect(resolveScanContext({}, undefined)).toEqual({});
  });
});

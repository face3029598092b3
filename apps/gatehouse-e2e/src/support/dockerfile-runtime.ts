import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, posix } from 'node:path';
import { promisify } from 'node:util';
import { WORKSPACE_ROOT } from '@gatehouse/testing';

const run = promisify(execFile);

/** One instruction of a Dockerfile, its continuation lines joined. */
export interface Instruction {
  keyword: string;
  args: string;
}

/** The stage an image is made of (the last `FROM`), with the global `ARG` defaults resolved into it. */
export interface RuntimeStage {
  from: string;
  env: Record<string, string>;
  workdir: string;
  user: string | undefined;
  healthcheck: string[] | undefined;
  command: string[];
  instructions: Instruction[];
}

export function parseInstructions(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n\s*/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const space = line.indexOf(' ');
      return { keyword: line.slice(0, space).toUpperCase(), args: line.slice(space + 1).trim() };
    });
}

function substitute(value: string, vars: Record<string, string>): string {
  return value.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (whole, braced: string, bare: string) => vars[braced ?? bare] ?? whole,
  );
}

/** `KEY=value KEY2=value2` (the form these Dockerfiles use), values without spaces. */
function pairs(args: string, vars: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    args.split(/\s+/).map((pair) => {
      const [key, ...value] = pair.split('=');
      return [key, substitute(value.join('='), vars)];
    }),
  );
}

export function runtimeStageOf(dockerfile: string): RuntimeStage {
  const instructions = parseInstructions(readFileSync(dockerfile, 'utf8'));
  const globals: Record<string, string> = {};
  let index = 0;
  for (; instructions[index].keyword !== 'FROM'; index++) {
    if (instructions[index].keyword === 'ARG') Object.assign(globals, pairs(instructions[index].args, {}));
  }
  const lastFrom = instructions.map((instruction) => instruction.keyword).lastIndexOf('FROM');
  const stage: RuntimeStage = {
    from: instructions[lastFrom].args.split(/\s+/)[0],
    env: {},
    workdir: '/',
    user: undefined,
    healthcheck: undefined,
    command: [],
    instructions: [],
  };
  const vars: Record<string, string> = {};
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  for (const instruction of instructions.slice(lastFrom + 1)) {
    const { keyword, args } = instruction;
    if (keyword === 'ARG') {
      // A stage sees a global ARG only when it names it again.
      const [name, value] = args.split('=');
      vars[name] = value ?? globals[name] ?? '';
    } else if (keyword === 'ENV') {
      Object.assign(stage.env, pairs(args, { ...vars, ...stage.env }));
    } else if (keyword === 'WORKDIR') {
      stage.workdir = posix.resolve(stage.workdir, args);
    } else if (keyword === 'USER') {
      stage.user = args;
    } else if (keyword === 'HEALTHCHECK') {
      stage.healthcheck = JSON.parse(args.slice(args.indexOf('CMD ') + 4)) as string[];
    } else if (keyword === 'ENTRYPOINT') {
      entrypoint = JSON.parse(args) as string[];
    } else if (keyword === 'CMD') {
      cmd = JSON.parse(args) as string[];
    } else if (keyword === 'COPY' || keyword === 'RUN') {
      stage.instructions.push({ keyword, args: substitute(args, { ...vars, ...stage.env }) });
    }
  }
  stage.command = [...entrypoint, ...cmd];
  return stage;
}

/**
 * Where the build stage's `/workspace` is here: the repository, built by `nx run-many -t build` (the build stage
 * runs the same build); the context of a plain `COPY` is the repository root too.
 */
function sourceOf(path: string, fromBuild: boolean): string {
  if (!fromBuild) return join(WORKSPACE_ROOT, path);
  if (!path.startsWith('/workspace/')) throw new Error(`COPY --from=build of ${path}: not under /workspace`);
  return join(WORKSPACE_ROOT, path.slice('/workspace/'.length));
}

/**
 * Replays the runtime stage's COPY and RUN steps into `root` (standing for the image's filesystem) and returns the
 * directory that stands for its WORKDIR. `npm cache clean --force` is left out: in the image it keeps npm's cache
 * out of the layer (the cache is under the home directory, not in /app); here it would empty the machine's shared
 * cache, which `npm ci` reads with --prefer-offline.
 */
export async function replayRuntimeStage(stage: RuntimeStage, root: string): Promise<string> {
  const workdir = join(root, stage.workdir);
  mkdirSync(workdir, { recursive: true });
  for (const { keyword, args } of stage.instructions) {
    if (keyword === 'COPY') {
      const words = args.split(/\s+/);
      const fromBuild = words[0] === '--from=build';
      const paths = fromBuild ? words.slice(1) : words;
      const target = paths[paths.length - 1];
      const destination = posix.isAbsolute(target) ? join(root, target) : join(workdir, target);
      for (const path of paths.slice(0, -1)) {
        const source = sourceOf(path, fromBuild);
        if (statSync(source).isDirectory()) cpSync(source, destination, { recursive: true });
        else cpSync(source, join(destination, basename(source)));
      }
    } else {
      const steps = args.split(/\s*&&\s*/).filter((step) => !/^npm cache clean\b/.test(step));
      await run('sh', ['-c', steps.join(' && ')], {
        cwd: workdir,
        env: {
          PATH: process.env['PATH'] ?? '',
          HOME: process.env['HOME'] ?? root,
          ...stage.env,
          npm_config_prefer_offline: 'true',
        },
        maxBuffer: 16 * 1024 * 1024,
      });
    }
  }
  return workdir;
}

/** Kibibytes under `path`, as `du` counts them (what the layer adds to the base image, give or take tar padding). */
export async function diskUsageKiB(path: string): Promise<number> {
  const { stdout } = await run('du', ['-sk', path]);
  return Number(stdout.split('\t')[0]);
}

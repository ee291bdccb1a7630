// Node module hooks that let a plain `node` child process run this package's TypeScript
// sources: `.js` imports fall back to the `.ts` file, which the TypeScript compiler strips
// of its types. Used only by the crash tests, which must SIGKILL a real process.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Transpiled modules are kept by the sha256 of their path and source, so later child
// processes skip the compiler. On the 2-core test machine a child that imports dr-core
// started in about 4 s without the cache and 1 s with it.
const cacheDir = join(tmpdir(), `flydr-ts-hooks-${process.getuid?.() ?? 'user'}`);
let compiler;

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    const relative = specifier.startsWith('.') || specifier.startsWith('/');
    if (relative && specifier.endsWith('.js')) {
      return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
    }
    throw error;
  }
}

export async function load(url, context, nextLoad) {
  if (!url.endsWith('.ts')) {
    return nextLoad(url, context);
  }
  const source = await readFile(new URL(url), 'utf8');
  const key = createHash('sha256').update(url).update('\0').update(source).digest('hex');
  const cached = join(cacheDir, `${key}.mjs`);
  const hit = await readFile(cached, 'utf8').catch(() => undefined);
  if (hit !== undefined) {
    return { format: 'module', source: hit, shortCircuit: true };
  }
  compiler ??= (await import('typescript')).default;
  const output = compiler.transpileModule(source, {
    fileName: url,
    compilerOptions: {
      module: compiler.ModuleKind.ESNext,
      target: compiler.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
    },
  });
  // Written under a unique name and renamed, so a parallel child never reads half a file.
  await mkdir(cacheDir, { recursive: true, mode: 0o700 });
  const partial = `${cached}.${process.pid}.tmp`;
  await writeFile(partial, output.outputText, { mode: 0o600 });
  await rename(partial, cached);
  return { format: 'module', source: output.outputText, shortCircuit: true };
}

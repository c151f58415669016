// Builds the page into dist/: index.html, app.js, app.css, and LICENSES.txt with the
// licences of every package bundled. `npm run build`; scripts/test.sh checks that the
// committed dist/ is what the sources build to.
import { mkdir, readFile, readdir, rm, writeFile, copyFile } from 'node:fs/promises';
import path from 'node:path';
import * as esbuild from 'esbuild';

const here = path.dirname(new URL(import.meta.url).pathname);
const dist = path.join(here, 'dist');

await rm(dist, { recursive: true, force: true });
await mkdir(dist);
const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: { app: 'src/main.js' },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  outdir: dist,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});
await copyFile(path.join(here, 'src/index.html'), path.join(dist, 'index.html'));

// The packages whose code is in the bundle, and their licence files.
const packages = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const match = input.match(/^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//);
  if (match) {
    packages.add(match[1]);
  }
}
const notices = [];
for (const dir of [...packages].sort()) {
  const { name, version, license } = JSON.parse(await readFile(path.join(here, dir, 'package.json'), 'utf8'));
  const files = (await readdir(path.join(here, dir))).filter((f) => /^(licen[cs]e|copying)/i.test(f));
  let text = '';
  for (const file of files) {
    text += await readFile(path.join(here, dir, file), 'utf8');
  }
  notices.push(`${name} ${version} (${license ?? 'see its package'})\n\n${text.trim() || '(no licence file in the package)'}\n`);
}
await writeFile(
  path.join(dist, 'LICENSES.txt'),
  `The page bundles these packages:\n\n${notices.join('\n' + '-'.repeat(72) + '\n\n')}`,
);

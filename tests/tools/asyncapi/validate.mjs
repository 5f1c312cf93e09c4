// Validates an AsyncAPI document with the official parser (@asyncapi/parser, pinned in
// package.json and package-lock.json). Prints the parser's diagnostics as one JSON object
// on stdout and exits 1 when any of them is an error (or the document cannot be parsed),
// 2 on bad usage, 0 otherwise. Warnings, infos and hints are printed, not fatal: the test
// (tests/unit/release/test_asyncapi.py) decides what it accepts.
//
//   node validate.mjs ../../../docs/asyncapi.yaml
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import parserModule from '@asyncapi/parser';

const { Parser } = parserModule;
const SEVERITY = ['error', 'warning', 'info', 'hint'];

const file = process.argv[2];
if (!file || process.argv.length > 3) {
  process.stderr.write('usage: node validate.mjs ASYNCAPI_FILE\n');
  process.exit(2);
}
const path = resolve(file);
const text = await readFile(path, 'utf8');
const parser = new Parser();
const { document, diagnostics } = await parser.parse(text, {
  source: pathToFileURL(path).href,
});
const report = {
  file: path,
  parsed: document !== undefined,
  asyncapi: document?.version() ?? null,
  diagnostics: diagnostics.map((d) => ({
    severity: SEVERITY[d.severity] ?? String(d.severity),
    code: String(d.code),
    message: d.message,
    path: d.path.join('/'),
    line: d.range.start.line + 1,
  })),
};
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
const failed = !report.parsed || report.diagnostics.some((d) => d.severity === 'error');
process.exit(failed ? 1 : 0);

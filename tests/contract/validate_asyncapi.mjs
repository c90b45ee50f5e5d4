// Validates an AsyncAPI document with the official parser (@asyncapi/parser, which checks
// it against the official JSON schemas of @asyncapi/specs). Prints the diagnostics as JSON;
// exit code 0 when there is no error, 1 otherwise.
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const path = process.argv[2];
const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(path, "utf8"), { source: path });
const errors = diagnostics.filter((d) => d.severity === 0);
console.log(JSON.stringify({
  valid: document !== undefined && errors.length === 0,
  version: document ? document.version() : null,
  title: document ? document.info().title() : null,
  channels: document ? document.channels().all().map((c) => c.address()) : [],
  operations: document ? document.operations().all().map((o) => [o.id(), o.action()]) : [],
  errors: errors.map((d) => ({ code: d.code, message: d.message, path: d.path })),
  warnings: diagnostics.filter((d) => d.severity === 1).length,
}));
process.exit(errors.length === 0 && document !== undefined ? 0 : 1);

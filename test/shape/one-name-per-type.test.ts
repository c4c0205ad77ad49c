// One name per thing: a type or interface name is declared once in src/, so
// that a grep for it finds the one definition (issue #22). Two shapes under
// one name read as one thing and are not.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/**
 * The names of the things a source declares: every type alias, interface,
 * class and enum at any depth, and every top-level PascalCase constant (the
 * zod schemas of api/v1alpha1 are named like types and read as them). A file
 * may declare a schema and its type under one name: it counts once.
 */
function declaredTypeNames(fileName: string, text: string): Set<string> {
  const names = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (ts.isTypeAliasDeclaration(node) || ts.isInterfaceDeclaration(node) || ts.isEnumDeclaration(node)) names.add(node.name.text);
    if (ts.isClassDeclaration(node) && node.name) names.add(node.name.text);
    ts.forEachChild(node, visit);
  };
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  visit(source);
  for (const statement of source.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const d of statement.declarationList.declarations) {
      if (ts.isIdentifier(d.name) && /^[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*$/.test(d.name.text)) names.add(d.name.text);
    }
  }
  return names;
}

/** The names declared in more than one file, each with those files, as "Name: a.ts, b.ts". */
function duplicateTypeNames(files: Array<{ name: string; text: string }>): string[] {
  const where = new Map<string, string[]>();
  for (const f of files) {
    for (const n of declaredTypeNames(f.name, f.text)) where.set(n, [...(where.get(n) ?? []), f.name]);
  }
  return [...where]
    .filter(([, at]) => at.length > 1)
    .map(([n, at]) => `${n}: ${at.join(', ')}`)
    .sort();
}

test('duplicateTypeNames finds a name declared in two files, and only that', () => {
  const cases: Array<{ files: Array<{ name: string; text: string }>; want: string[] }> = [
    {
      files: [
        { name: 'a.ts', text: 'export type A = number;' },
        { name: 'b.ts', text: 'export interface B { x: 1 }' },
      ],
      want: [],
    },
    {
      files: [
        { name: 'a.ts', text: 'export type Row = { a: 1 };' },
        { name: 'b.ts', text: 'interface Row { b: 2 }' },
      ],
      want: ['Row: a.ts, b.ts'],
    },
    // a type nested in a function, a class, an enum
    {
      files: [
        { name: 'a.ts', text: 'function f() { type T = 1; return 1 as T; }' },
        { name: 'b.ts', text: 'class T {}' },
      ],
      want: ['T: a.ts, b.ts'],
    },
    {
      files: [
        { name: 'a.ts', text: 'enum E { X }' },
        { name: 'b.ts', text: 'type E = 1;' },
      ],
      want: ['E: a.ts, b.ts'],
    },
    // a schema constant and a hand-written type of the same name elsewhere
    {
      files: [
        { name: 'api.ts', text: 'export const Finding = z.object({});' },
        { name: 'r.ts', text: 'export interface Finding {}' },
      ],
      want: ['Finding: api.ts, r.ts'],
    },
    // a schema and its own type in one file count once; camelCase and SCREAMING constants are values, not names of things
    {
      files: [
        { name: 'a.ts', text: 'export const A = z.number();\nexport type A = z.infer<typeof A>;\nconst row = 1;\nconst MAX = 2;' },
        { name: 'b.ts', text: 'const row = 3;\nconst MAX = 4;' },
      ],
      want: [],
    },
  ];
  for (const c of cases) assert.deepEqual(duplicateTypeNames(c.files), c.want, JSON.stringify(c.files));
});

test('no type or interface name is declared twice in src/', () => {
  const files = sourceFiles(join(ROOT, 'src')).map((path) => ({ name: relative(ROOT, path), text: readFileSync(path, 'utf8') }));
  assert.ok(files.length > 100, `read ${files.length} sources`);
  const dups = duplicateTypeNames(files);
  assert.deepEqual(dups, [], `rename so that each name has one definition:\n${dups.join('\n')}`);
});

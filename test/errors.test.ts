import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorText, statusCode } from '../src/errors.js';

test('errorText: one line for anything thrown', () => {
  const cases: [unknown, string][] = [
    [new Error('EACCES: permission denied'), 'EACCES: permission denied'],
    ['plain text', 'plain text'],
    [{ code: 503, message: 'unavailable' }, '{"code":503,"message":"unavailable"}'],
    [42, '42'],
    [null, 'null'],
    [undefined, 'undefined'],
  ];
  for (const [err, text] of cases) assert.equal(errorText(err), text, String(err));
});

test('statusCode: the HTTP status of an API error, never a guess', () => {
  const apiError = Object.assign(new Error('HTTP-Code: 409'), { code: 409, body: '{}' });
  const cases: [unknown, number | undefined][] = [
    [apiError, 409],
    [{ statusCode: 410 }, 410],
    [Object.assign(new Error('ENOENT'), { code: 'ENOENT' }), undefined], // a Node errno is not an HTTP status
    ['409', undefined],
    [null, undefined],
  ];
  for (const [err, code] of cases) assert.equal(statusCode(err), code, errorText(err));
});

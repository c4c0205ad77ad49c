import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiErrorText, errorText, statusCode } from '../src/errors.js';

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

test("apiErrorText: an API refusal as its status and the server's message, without client-node's headers", () => {
  const refusal = (code: number, body: unknown) =>
    Object.assign(new Error(`HTTP-Code: ${code}\nMessage: Unknown API Status Code!\nBody: ...\nHeaders: {...}`), { code, body });
  const forbidden = { kind: 'Status', status: 'Failure', reason: 'Forbidden', code: 403, message: 'pods is forbidden: User "u" cannot list resource "pods"' };
  const cases: [unknown, string][] = [
    [refusal(403, JSON.stringify(forbidden)), 'HTTP 403 Forbidden: pods is forbidden: User "u" cannot list resource "pods"'],
    [
      refusal(404, { reason: 'NotFound', message: 'the server could not find the requested resource' }),
      'HTTP 404 NotFound: the server could not find the requested resource',
    ],
    [refusal(401, undefined), 'HTTP 401'],
    [refusal(502, '<html>bad gateway</html>'), 'HTTP 502'],
    [new Error('connect ECONNREFUSED 127.0.0.1:6443'), 'connect ECONNREFUSED 127.0.0.1:6443'],
  ];
  for (const [err, text] of cases) assert.equal(apiErrorText(err), text);
});

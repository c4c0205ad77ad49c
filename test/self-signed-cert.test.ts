// The self-signed serving certificate (metrics server, test API server): valid for
// localhost and 127.0.0.1, accepted by TLS whatever its random serial, for the time asked.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { createSecureContext } from 'node:tls';
import { derInteger, selfSignedCert } from '../src/self-signed-cert.js';

describe('selfSignedCert', () => {
  it('makes a valid self-signed serving certificate for 127.0.0.1', () => {
    const cert = new X509Certificate(selfSignedCert().certPem);
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkHost('localhost'), 'localhost');
    assert.equal(cert.verify(cert.publicKey), true);
    assert.equal(cert.ca, true);
    assert.ok(new Date(cert.validTo).getTime() > Date.now());
  });

  it('encodes INTEGERs in the one minimal DER form', () => {
    const cases: [number[], string][] = [
      [[0x02], '020102'],
      [[0x00], '020100'],
      [[0x00, 0x00], '020100'],
      [[0x00, 0x01], '020101'],
      [[0x00, 0x7f, 0xff], '02027fff'],
      [[0x80], '02020080'],
      [[0x00, 0x80], '02020080'],
      [[0x00, 0x00, 0x80, 0x01], '0203008001'],
    ];
    for (const [bytes, hex] of cases) assert.equal(derInteger(Buffer.from(bytes)).toString('hex'), hex, Buffer.from(bytes).toString('hex'));
  });

  // A random 16-byte serial starts 00 0x..7x one time in 512; once that was sent as-is and TLS refused the certificate ("illegal padding").
  it('makes a certificate TLS accepts whatever bytes the serial starts with', () => {
    for (const head of [[0x00, 0x01], [0x00, 0x80], [0x00, 0x00, 0x00], [0x80], [0x7f], [0xff]]) {
      const serial = Buffer.concat([Buffer.from(head), Buffer.alloc(16 - head.length, 0x5a)]);
      const cert = selfSignedCert({ serial });
      assert.doesNotThrow(() => createSecureContext({ key: cert.keyPem, cert: cert.certPem }), serial.toString('hex'));
      assert.equal(new X509Certificate(cert.certPem).serialNumber.replace(/^0+/, '').toLowerCase(), serial.toString('hex').replace(/^0+/, ''));
    }
  });

  it('is valid for the days asked, from an hour ago', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const cert = new X509Certificate(selfSignedCert({ now, validDays: 365 }).certPem);
    assert.equal(new Date(cert.validFrom).toISOString(), '2025-12-31T23:00:00.000Z');
    assert.equal(new Date(cert.validTo).toISOString(), '2027-01-01T00:00:00.000Z');
  });
});

// A self-signed serving certificate for localhost and 127.0.0.1, built with node:crypto
// alone (no openssl, no dependency). The metrics server serves with one when no certificate
// is given (as controller-runtime does: its scrapers skip verification, the point is that
// tokens never cross the network in clear), and the test API server with another (kubectl
// sends bearer tokens only over TLS). It is its own CA: clients that verify trust it as such.
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { systemClock } from './clock.js';

/** DER tag-length-value. */
function tlv(tag: number, content: Buffer): Buffer {
  const length = content.length;
  let header: Buffer;
  if (length < 0x80) header = Buffer.from([tag, length]);
  else {
    const bytes: number[] = [];
    for (let n = length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
    header = Buffer.from([tag, 0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([header, content]);
}

const sequence = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const explicit = (n: number, inner: Buffer) => tlv(0xa0 + n, inner);
const octetString = (content: Buffer) => tlv(0x04, content);
const bitString = (content: Buffer) => tlv(0x03, Buffer.concat([Buffer.from([0]), content]));
const utf8 = (text: string) => tlv(0x0c, Buffer.from(text, 'utf8'));
const bool = (value: boolean) => tlv(0x01, Buffer.from([value ? 0xff : 0]));

/** A non-negative INTEGER from big-endian bytes, in DER's one minimal form (OpenSSL rejects any other as "illegal padding"). */
export function derInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const minimal = bytes.subarray(start);
  // A set high bit would read as negative: one zero byte in front keeps it positive.
  return tlv(0x02, minimal[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), minimal]) : minimal);
}

function oid(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(Number);
  const out = [40 * first! + second!];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** RFC 5280: UTCTime up to 2049, GeneralizedTime after. */
function time(date: Date): Buffer {
  const digits = date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, 'ascii')) : tlv(0x18, Buffer.from(`${digits}Z`, 'ascii'));
}

const extension = (id: string, critical: boolean, value: Buffer) => sequence(oid(id), ...(critical ? [bool(true)] : []), octetString(value));

/** 16 random bytes, never all zero (a serial must be positive). */
function randomSerial(): Buffer {
  const serial = randomBytes(16);
  serial[15]! |= 1;
  return serial;
}

export interface ServingCert {
  keyPem: string;
  certPem: string;
  /** Base64 of certPem, for kubeconfig certificate-authority-data. */
  caData: string;
}

export interface CertOptions {
  commonName?: string;
  now?: Date;
  /** How long it stays valid from now (it is also valid from an hour before, for clock skew). */
  validDays?: number;
  /** Big-endian serial number; random by default (RFC 5280: positive, at most 20 bytes). */
  serial?: Buffer;
}

export function selfSignedCert({
  commonName = 'conntrack-operator',
  now = new Date(systemClock()),
  validDays = 7,
  serial = randomSerial(),
}: CertOptions = {}): ServingCert {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ecdsaSha256 = sequence(oid('1.2.840.10045.4.3.2'));
  const name = sequence(set(sequence(oid('2.5.4.3'), utf8(commonName))));
  const subjectAltName = sequence(tlv(0x82, Buffer.from('localhost')), tlv(0x87, Buffer.from([127, 0, 0, 1])));
  const extensions = sequence(
    extension('2.5.29.19', true, sequence(bool(true))),
    // keyUsage digitalSignature + keyCertSign (2 unused bits).
    extension('2.5.29.15', true, tlv(0x03, Buffer.from([0x02, 0x84]))),
    extension('2.5.29.37', false, sequence(oid('1.3.6.1.5.5.7.3.1'))),
    extension('2.5.29.17', false, subjectAltName),
  );
  const tbs = sequence(
    explicit(0, derInteger(Buffer.from([2]))),
    derInteger(serial),
    ecdsaSha256,
    name,
    sequence(time(new Date(now.getTime() - 3_600_000)), time(new Date(now.getTime() + validDays * 86_400_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, extensions),
  );
  const signature = sign('sha256', tbs, privateKey);
  const der = sequence(tbs, ecdsaSha256, bitString(signature));
  const certPem = `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END CERTIFICATE-----\n`;
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { keyPem, certPem, caData: Buffer.from(certPem).toString('base64') };
}

// The certificate /metrics is served with over HTTPS: tls.crt and tls.key from a
// folder (a kubernetes.io/tls Secret mounted there, e.g. one cert-manager keeps
// renewed), re-read when they change; or, without a folder, a self-signed one
// made at start, as controller-runtime's metrics server does (its scrapers skip
// verification: what matters is that tokens never cross the network in clear).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { errorText } from '../errors.js';
import type { Log } from '../logger.js';
import { selfSignedCert } from '../self-signed-cert.js';

export interface KeyPair {
  cert: string;
  key: string;
}

/** How often the folder is read again: cert-manager renews at two thirds of a lifetime counted in weeks. */
const CERT_POLL_MS = 60_000;
const SELF_SIGNED_DAYS = 365;

/** The pair in `dir`, checked to make a TLS context; an error names the file and the reason. */
async function readPair(dir: string): Promise<KeyPair> {
  const read = (name: string) =>
    readFile(join(dir, name), 'utf8').catch((err: unknown) => {
      throw new Error(`--metrics-cert-dir: cannot read ${join(dir, name)}: ${errorText(err)}`);
    });
  const pair = { cert: await read('tls.crt'), key: await read('tls.key') };
  try {
    createSecureContext(pair);
  } catch (err) {
    throw new Error(`--metrics-cert-dir: ${dir}: tls.crt and tls.key are not a usable pair: ${errorText(err)}`);
  }
  return pair;
}

export class ServingCertificate {
  private timer: NodeJS.Timeout | null = null;

  private constructor(
    private pair: KeyPair,
    /** The folder, or null for a self-signed certificate. */
    readonly dir: string | null,
    private readonly pollMs: number,
  ) {}

  /** From the folder (which must hold a usable pair; read again every pollMs), or self-signed when there is none. */
  static async load(dir: string | undefined, pollMs = CERT_POLL_MS): Promise<ServingCertificate> {
    if (dir) return new ServingCertificate(await readPair(dir), dir, pollMs);
    const made = selfSignedCert({ commonName: 'conntrack-operator-metrics', validDays: SELF_SIGNED_DAYS });
    return new ServingCertificate({ cert: made.certPem, key: made.keyPem }, null, pollMs);
  }

  current(): KeyPair {
    return this.pair;
  }

  /** Re-reads the folder every pollMs and hands a changed, usable pair to `onChange`; a broken one is logged and the old one kept. */
  watch(onChange: (pair: KeyPair) => void, log: Log): void {
    const dir = this.dir;
    if (!dir || this.timer) return;
    let reading = false;
    this.timer = setInterval(() => {
      if (reading) return;
      reading = true;
      readPair(dir)
        .then(
          (pair) => {
            if (pair.cert === this.pair.cert && pair.key === this.pair.key) return;
            this.pair = pair;
            onChange(pair);
            log.info({ dir }, 'metrics: serving the renewed certificate');
          },
          (err: unknown) =>
            log.warn({ err: errorText(err) }, 'metrics: the certificate folder changed to something unusable; serving the previous certificate'),
        )
        .finally(() => (reading = false));
    }, this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

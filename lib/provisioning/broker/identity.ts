/** A client's identity from its X.509 certificate: the subject CN, or a subjectAltName entry. */
import type { PeerCertificate } from 'node:tls';

export type IdentitySource = 'cn' | 'san';

/** subjectaltname looks like 'DNS:dev-1, URI:urn:dev:1, IP Address:10.0.0.1'. */
function firstSan(altNames: string | undefined): string | undefined {
  for (const entry of (altNames ?? '').split(/,\s*/)) {
    const m = /^(DNS|URI):(.+)$/.exec(entry.trim());
    if (m) return m[2];
  }
  return undefined;
}

export function certificateIdentity(cert: PeerCertificate | undefined, source: IdentitySource): string | undefined {
  if (!cert || Object.keys(cert).length === 0) return undefined;
  if (source === 'san') return firstSan(cert.subjectaltname);
  const cn = cert.subject?.CN as string | string[] | undefined;
  return Array.isArray(cn) ? cn[0] : cn;
}

/** Why TLS did not trust a certificate, in the terms of the owner notices. */
export function classifyCertificateError(code: string | undefined): 'certificate-expired' | 'certificate-revoked' | 'untrusted' {
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return 'certificate-expired';
  if (code === 'CERT_REVOKED') return 'certificate-revoked';
  return 'untrusted';
}

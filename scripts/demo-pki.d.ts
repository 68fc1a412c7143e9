// Types for scripts/demo-pki.js, so the TypeScript tests import it typed.

export interface CertPair {
  readonly cert: string; // PEM
  readonly key: string; // PEM
  readonly certFile: string;
  readonly keyFile: string;
}

export interface IssueOptions {
  cn: string;
  days: number;
  /** e.g. "DNS:lamp-1" or "DNS:localhost,IP:127.0.0.1" */
  san: string;
  /** extendedKeyUsage, default "serverAuth,clientAuth" */
  usage?: string;
  /** default: a random 64-bit serial */
  serial?: number;
  /** where `<issuer>.crt` and `.key` are, default `dir` */
  issuerDir?: string;
}

export function findOpenssl(): string | undefined;
export function caArgs(dir: string, name: string, cn: string, days: number): string[][];
export function issueArgs(dir: string, issuer: string, name: string, options: IssueOptions): string[][];
export function runOpenssl(openssl: string, argLists: string[][]): void;
export function readPair(dir: string, name: string): CertPair;
export function ensureDemoPki(openssl: string, userDir: string): { dir: string; ca: CertPair; broker: CertPair; created: boolean };
export function ensureDeviceCert(openssl: string, userDir: string, id: string): CertPair;
export const DEVICE_ID: RegExp;

/**
 * Server-side lookup of the Recipient Context for a request by 'kid' and 'kid context'
 * (RFC 8613 §8.2 step 2): one server node can serve several clients, one context each.
 */
import { OscoreError } from './errors';
import type { CoapMessage } from './message';
import { readOscoreHeader } from './protect';
import type { RequestVerification, SecurityContext } from './security-context';

export class ContextRegistry {
  private readonly contexts: SecurityContext[] = [];

  add(context: SecurityContext): void {
    const clash = this.contexts.find(
      (c) => c.recipientId.equals(context.recipientId) && (c.idContext === undefined) === (context.idContext === undefined) && (!c.idContext || c.idContext.equals(context.idContext as Buffer)),
    );
    if (clash) throw new OscoreError('invalid-argument', 'two contexts with the same Recipient ID and ID Context');
    this.contexts.push(context);
  }

  get size(): number {
    return this.contexts.length;
  }

  /** Verifies with the matching context; 'context-not-found' (4.01) when none matches. */
  verifyRequest(message: CoapMessage): RequestVerification & { context: SecurityContext } {
    const header = readOscoreHeader(message);
    if (!header.partialIv || !header.kid) throw new OscoreError('bad-option', 'request without kid or Partial IV');
    const candidates = this.contexts.filter((c) => c.matches(header));
    if (candidates.length === 0) throw new OscoreError('context-not-found', 'no security context for this kid');
    // Same kid with different ID Contexts and no 'kid context' sent: try each (§3.3).
    let lastError: unknown;
    for (const context of candidates) {
      try {
        return { ...context.verifyRequest(message), context };
      } catch (error) {
        if (!(error instanceof OscoreError) || error.kind !== 'decryption-failed') throw error;
        lastError = error;
      }
    }
    throw lastError;
  }
}

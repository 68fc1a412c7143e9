/** A request the Resource Directory refuses, with the CoAP response that says why. */
import type { OptionValue } from '../endpoint';

export class RdError extends Error {
  constructor(
    /** CoAP response code, e.g. "4.00". */
    readonly code: string,
    message: string,
    /** Options for the response, e.g. Max-Age on 5.03/4.29, Size1 on 4.13. */
    readonly options: Record<string, OptionValue> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string): RdError => new RdError('4.00', message);

/** How an IGD mapper sends one UPnP action: through nat-upnp (IGD v1) or directly (IGD v2). */
export interface IgdControl {
  /** Resolves with the response's fields; rejects with a NatError carrying the UPnP code where known. */
  call(action: string, args: Array<[string, string | number]>): Promise<Record<string, string>>;
}

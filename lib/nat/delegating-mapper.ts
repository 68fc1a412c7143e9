/**
 * A PortMapper that finds its real backend on first use and finds it again after the router
 * disappears or changes: discovery results are cached, not repeated on every call.
 */
import { asNatError, NatError } from './errors';
import type { Mapping, MappingRequest, PortMapper } from './types';

export abstract class DelegatingMapper implements PortMapper {
  private chosen?: Promise<PortMapper>;
  private current?: PortMapper;
  private closed = false;

  protected abstract readonly label: string;
  protected abstract choose(): Promise<PortMapper>;

  get kind(): string {
    return this.current?.kind ?? this.label;
  }

  externalAddress(): Promise<string> {
    return this.use((m) => m.externalAddress());
  }
  map(request: MappingRequest): Promise<Mapping> {
    return this.use((m) => m.map(request));
  }
  unmap(mapping: Pick<Mapping, 'protocol' | 'externalPort' | 'internalPort'>): Promise<void> {
    return this.use((m) => m.unmap(mapping));
  }
  list(): Promise<Mapping[]> {
    return this.use((m) => m.list());
  }

  close(): void {
    this.closed = true;
    this.current?.close();
    this.chosen?.then((m) => m.close(), () => undefined);
  }

  private async use<T>(fn: (m: PortMapper) => Promise<T>): Promise<T> {
    if (this.closed) throw new NatError('unreachable', `${this.label} port mapper closed`);
    const pending = (this.chosen ??= this.choose());
    let mapper: PortMapper;
    try {
      mapper = await pending;
    } catch (err) {
      if (this.chosen === pending) this.chosen = undefined;
      throw asNatError(err, 'unreachable');
    }
    if (this.closed) {
      mapper.close();
      throw new NatError('unreachable', `${this.label} port mapper closed`);
    }
    this.current = mapper;
    try {
      return await fn(mapper);
    } catch (err) {
      const e = asNatError(err);
      // Router gone, moved or replaced by one that speaks something else: discover again next time.
      if ((e.kind === 'unreachable' || e.kind === 'unsupported') && this.chosen === pending) {
        this.chosen = undefined;
        this.current = undefined;
        mapper.close();
      }
      throw e;
    }
  }
}

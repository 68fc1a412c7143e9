// The helper ships no types; this covers the part the tests use.
declare module 'node-red-node-test-helper' {
  import type { Node } from 'node-red';
  export type FlowNode = { id: string; type: string; [key: string]: unknown };
  /** A node module as Node-RED loads it: a function given the runtime API. */
  export type NodeModule = (RED: unknown) => void;
  interface SinonSpyLike {
    getCalls(): Array<{ args: unknown[] }>;
  }
  export type TestNode = Node & { status: Node['status'] & SinonSpyLike; error: Node['error'] & SinonSpyLike; warn: Node['warn'] & SinonSpyLike };
  interface NodeTestHelper {
    init(runtimePath: string, userSettings?: Record<string, unknown>): void;
    load(nodes: NodeModule | NodeModule[], flow: FlowNode[], credentials?: Record<string, unknown>): Promise<void>;
    unload(): Promise<void>;
    getNode(id: string): TestNode;
    startServer(): Promise<void>;
    stopServer(): Promise<void>;
    url(): string;
  }
  const helper: NodeTestHelper;
  export default helper;
}

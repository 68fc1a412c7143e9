// aedes-persistence-level ships no types; it takes a Level instance and returns what aedes's
// `persistence` option accepts (typed `any` by aedes itself).
declare module 'aedes-persistence-level' {
  import type { Level } from 'level';
  function persistence(db: Level<string, unknown>): { destroy(): Promise<void> };
  export = persistence;
}

// Types of scripts/demo-scenario.mjs for the TypeScript end-to-end test (test/e2e/demo.test.ts).
export type Check = (label: string, actual: unknown, expected: unknown) => void;

export interface LoopResult {
  readonly ok: number;
  readonly failed: number;
  readonly errors: string[];
  readonly own_issuers: string[];
  readonly peer_issuers: string[];
}

export interface DemoContext {
  readonly log: (line: string) => void;
  /** Whether the workloads ran as uids of their own (root with setpriv). */
  separateUids?: boolean;
  /** The mTLS loops' counts across the CA rotation (set by the last step). */
  rotation?: { readonly a: LoopResult; readonly b: LoopResult };
  signet?: { readonly url: string; output(): string };
}

export interface Step {
  readonly title: string;
  run(ctx: DemoContext, check: Check): Promise<void>;
}

export const IDS: Readonly<Record<"sampleNode" | "x509popNode" | "a" | "b" | "c", string>>;
export const UIDS: Readonly<Record<"a" | "b" | "stranger" | "c", number>>;
export const steps: readonly Step[];
export function createContext(options?: { log?: (line: string) => void; verbose?: boolean }): DemoContext;

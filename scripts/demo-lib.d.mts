// Types of scripts/demo-lib.mjs for the TypeScript end-to-end test (only what it uses).
export function cleanup(): Promise<void>;
export function cleanupSync(): void;
export function installExitHandlers(options?: { signals?: boolean; onSignal?: (signal: string) => void }): void;
export function canSwitchUids(): boolean;

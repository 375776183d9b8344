/**
 * Which registration entries an agent is authorized for, as SPIRE's server decides it
 * (`pkg/server/authorizedentries/cache.go` LookupAuthorizedEntries; specs/spiffe.md §2.4):
 *
 * 1. The agent's own ID is a parent, and so is the ID of every node entry (an entry parented to the
 *    server's ID `spiffe://<td>/signet/server`) whose selectors are all among the agent's node
 *    selectors. A node entry with no selectors matches nothing (the registry never stores one).
 * 2. Every entry parented to a parent is authorized, and its own SPIFFE ID becomes a parent in turn,
 *    transitively.
 *
 * The server's ID is never a parent in step 2, so node entries themselves are not handed out, and the
 * walk visits each parent ID once: it terminates on cyclic data and costs O(entries + node entries ×
 * selectors) with the index by parent id (built in O(entries), or kept by the caller).
 */
import type { SpiffeId } from "../spiffe/id";
import { serverIdFor } from "./ids";
import { isSubsetOf, selectorSet, type Selector } from "./selectors";

/** What authorization reads of an entry. */
export interface AuthorizableEntry {
  readonly id: string;
  readonly spiffeId: string;
  readonly parentId: string;
  readonly selectors: readonly Selector[];
}

/** Entries grouped by parent ID. */
export type ParentIndex<E extends AuthorizableEntry> = ReadonlyMap<string, readonly E[]>;

export function indexByParent<E extends AuthorizableEntry>(entries: Iterable<E>): Map<string, E[]> {
  const index = new Map<string, E[]>();
  for (const e of entries) {
    const list = index.get(e.parentId);
    if (list) list.push(e);
    else index.set(e.parentId, [e]);
  }
  return index;
}

export interface AuthorizedResult<E> {
  readonly entries: E[];
  /** How many index lists and entries the walk touched (≤ parents + entries): the cost, for tests. */
  readonly steps: number;
}

/** The walk, with its cost. */
export function authorizeWithIndex<E extends AuthorizableEntry>(
  agentId: SpiffeId,
  agentNodeSelectors: readonly Selector[],
  index: ParentIndex<E>,
): AuthorizedResult<E> {
  const serverId = serverIdFor(agentId);
  const have = selectorSet(agentNodeSelectors);
  const seenParents = new Set<string>([serverId, agentId]);
  const pending: string[] = [agentId];
  let steps = 0;
  for (const alias of index.get(serverId) ?? []) {
    steps++;
    if (alias.selectors.length === 0 || !isSubsetOf(alias.selectors, have) || seenParents.has(alias.spiffeId)) continue;
    seenParents.add(alias.spiffeId);
    pending.push(alias.spiffeId);
  }
  const out: E[] = [];
  const seenEntries = new Set<string>();
  for (let parent = pending.pop(); parent !== undefined; parent = pending.pop()) {
    steps++;
    for (const e of index.get(parent) ?? []) {
      steps++;
      if (!seenEntries.has(e.id)) {
        seenEntries.add(e.id);
        out.push(e);
      }
      if (!seenParents.has(e.spiffeId)) {
        seenParents.add(e.spiffeId);
        pending.push(e.spiffeId);
      }
    }
  }
  return { entries: out, steps };
}

/** The entries `agentId` is authorized for, in walk order. */
export function authorizedEntries<E extends AuthorizableEntry>(agentId: SpiffeId, agentNodeSelectors: readonly Selector[], entries: Iterable<E>): E[] {
  return authorizeWithIndex(agentId, agentNodeSelectors, indexByParent(entries)).entries;
}

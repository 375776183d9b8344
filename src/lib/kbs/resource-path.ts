/**
 * Key broker resource paths: exactly `<repo>/<type>/<tag>`, each segment as Trustee's ResourceDesc
 * accepts it (`[A-Za-z0-9_-][A-Za-z0-9_.-]*`, so no `.` or `..` segment, no traversal), at most 128
 * characters each.
 */
export interface ResourcePathParts {
  readonly repo: string;
  readonly type: string;
  readonly tag: string;
}

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

/** Parses the segments after `/resource/` (already split on `/`, not percent-decoded). */
export function parseResourcePath(segments: readonly string[]): ResourcePathParts | undefined {
  if (segments.length !== 3 || !segments.every((s) => SEGMENT.test(s))) return undefined;
  const [repo, type, tag] = segments as [string, string, string];
  return { repo, type, tag };
}

export function isResourcePath(path: string): boolean {
  return parseResourcePath(path.split("/")) !== undefined;
}

export function resourcePathString(p: ResourcePathParts): string {
  return `${p.repo}/${p.type}/${p.tag}`;
}

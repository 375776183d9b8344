/**
 * Expected failures in `src/lib` are values, not exceptions (STYLE.md, error model).
 * `E` is a union tagged on `reason`; callers narrow with `if (!r.ok)`.
 */
export type Result<T, E> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

export function err<E>(error: E): { readonly ok: false; readonly error: E } {
  return { ok: false, error };
}

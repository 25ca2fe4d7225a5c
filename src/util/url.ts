/**
 * The origin a Location header points to (a relative one resolves against `base`), or undefined.
 * Only the origin: a redirect's path may carry a token, and it ends up in logs.
 */
export function redirectOrigin(location: string | string[] | undefined, base: string): string | undefined {
  const l = Array.isArray(location) ? location[0] : location;
  if (!l) return undefined;
  try {
    return new URL(l, base).origin;
  } catch {
    return undefined;
  }
}

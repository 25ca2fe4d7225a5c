/**
 * For a redirect (3xx), the origin its Location header points to (a relative one resolves against
 * `base`); undefined for any other status or without a usable Location. Only the origin: a
 * redirect's path may carry a token, and it ends up in logs.
 */
export function redirectOrigin(status: number, location: string | string[] | undefined, base: string): string | undefined {
  if (status < 300 || status >= 400) return undefined;
  const l = Array.isArray(location) ? location[0] : location;
  if (!l) return undefined;
  try {
    return new URL(l, base).origin;
  } catch {
    return undefined;
  }
}

/** A URL part percent-decoded, or as it is when its escapes are malformed (a stray % typed by hand). */
export function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

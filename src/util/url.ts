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

/** Whether a URL's hostname (as `URL.hostname` gives it, IPv6 in brackets) is this machine: localhost, 127.0.0.0/8 or ::1. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(host) || host === '[::1]';
}

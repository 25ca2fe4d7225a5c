import { existsSync } from 'node:fs';
import { EnvHttpProxyAgent, Pool, type Dispatcher } from 'undici';
import { secrets } from '../log.js';

const PROXY_VARS = ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY'] as const;

/** Whether a proxy is configured the way curl and npm read it (HTTPS_PROXY / HTTP_PROXY, either case). */
export function proxyConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return PROXY_VARS.some((name) => Boolean(env[name]));
}

/**
 * For a network error's message. With the URL requested: ' (through the proxy in HTTP_PROXY,
 * proxy.corp:3128)' when its requests go through one, '' when they go direct (NO_PROXY names its
 * host: saying "through the proxy" sent people to look at the wrong machine). Without: the
 * proxy variables, when any is set.
 */
export function proxyNote(url?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!proxyConfigured(env)) return '';
  if (url === undefined) return ' (through the proxy in HTTPS_PROXY/HTTP_PROXY)';
  const route = proxyRoute(url, env);
  return route ? ` (through the proxy in ${route.variable}, ${route.host})` : '';
}

/** Forget the proxy variables for this process: for the demo, whose only traffic is to 127.0.0.1. */
export function ignoreProxyEnv(): void {
  for (const name of PROXY_VARS) delete process.env[name];
}

/**
 * Throws a TypeError naming the variable (never its value, which may hold a password) when a proxy
 * variable is set to something that is not an http(s) URL, e.g. `proxy.example:3128`.
 */
export function checkProxyEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of PROXY_VARS) {
    const v = env[name];
    if (!v) continue;
    let ok = false;
    try {
      const u = new URL(v);
      ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
    } catch {
      // not a URL
    }
    if (!ok) throw new TypeError(`${name} is set but is not an http(s) URL: write it as http://host:port (user:password@ before the host if the proxy needs them)`);
  }
}

/** The proxy a request to a URL goes through: the variable it is set in and its host (never its credentials). */
export interface ProxyRoute {
  variable: string;
  host: string;
  hostname: string;
}

/**
 * Which proxy undici's EnvHttpProxyAgent sends a request for `url` through, or undefined for a
 * direct one (no proxy for its scheme, or NO_PROXY names the host). Its rules, read from its
 * source: https takes https_proxy ?? HTTPS_PROXY, else the http one; http takes http_proxy ??
 * HTTP_PROXY; NO_PROXY (no_proxy first) is a list split at commas and spaces, "*" for every
 * host, an entry matching the host or a domain above it (a leading "." or "*." dropped), with a
 * port only that port. For --check-config and the start log, which say where requests go.
 */
export function proxyRoute(url: string, env: NodeJS.ProcessEnv = process.env): ProxyRoute | undefined {
  if (noProxyEntry(url, env) !== undefined) return undefined;
  const u = new URL(url);
  const http = env.http_proxy !== undefined ? (['http_proxy', env.http_proxy] as const) : (['HTTP_PROXY', env.HTTP_PROXY] as const);
  const https = env.https_proxy !== undefined ? (['https_proxy', env.https_proxy] as const) : (['HTTPS_PROXY', env.HTTPS_PROXY] as const);
  const [variable, value] = u.protocol === 'https:' && https[1] ? https : http;
  if (!value) return undefined;
  try {
    const p = new URL(value);
    return { variable, host: p.host, hostname: p.hostname };
  } catch {
    return undefined;
  }
}

/** The NO_PROXY entry (no_proxy first) that sends a request for `url` direct, as EnvHttpProxyAgent matches them, or undefined. */
export function noProxyEntry(url: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const u = new URL(url);
  // the host as undici takes it: an IPv6 address keeps its brackets
  const hostname = u.host.replace(/:\d*$/, '').toLowerCase();
  const port = Number.parseInt(u.port, 10) || (u.protocol === 'https:' ? 443 : 80);
  const noProxy = env.no_proxy ?? env.NO_PROXY ?? '';
  if (noProxy === '*') return '*';
  for (const entry of noProxy.split(/[,\s]/)) {
    if (!entry) continue;
    const m = /^(.+):(\d+)$/.exec(entry);
    const host = (m ? m[1]! : entry).replace(/^\*?\./, '').toLowerCase();
    if (m && Number.parseInt(m[2]!, 10) !== port) continue;
    if (hostname === host || hostname.endsWith(`.${host}`)) return entry;
  }
  return undefined;
}

/**
 * Keep-alive connections to one origin: a Pool, or, when HTTPS_PROXY / HTTP_PROXY is set, undici's
 * EnvHttpProxyAgent (which honours NO_PROXY), so the daemon works behind a corporate proxy. Give
 * every request `origin` too: the proxy agent serves any origin.
 */
export function originDispatcher(origin: string, connections: number): Dispatcher {
  const opts = { connections, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 };
  if (!proxyConfigured()) return new Pool(origin, opts);
  checkProxyEnv();
  // a proxy URL with a user and password is a credential: keep it out of logs and errors
  for (const name of PROXY_VARS) {
    const v = process.env[name];
    if (v && /\/\/[^/@]*@/.test(v)) secrets.addUrl(v);
  }
  return new EnvHttpProxyAgent(opts);
}

/**
 * A network error in a few words: its code and message, once (Node's messages often already
 * start with the code: "connect ECONNREFUSED 127.0.0.1:443"), and the code alone when the message
 * is empty (an AggregateError from a connection tried on IPv6 and IPv4).
 */
export function networkFailure(err: unknown, container: Container = inContainer()): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  let message = typeof e?.message === 'string' ? e.message : String(err);
  // OpenSSL's own text ("807C…:error:0A00010B:SSL routines:ssl3_get_record:wrong version
  // number:../deps/openssl/…/ssl3_record.c:350:" and a line break): its reason is what says anything
  const openssl = /:error:[0-9A-Fa-f]+:[^:]*:[^:]*:([^:\n]+):/.exec(message);
  if (openssl) message = openssl[1]!;
  // undici's words for a proxy that would not open the tunnel ("Proxy response (407) !== 200 when
  // HTTP Tunneling", code UND_ERR_ABORTED): what its status means for the person who set the proxy
  const tunnel = /Proxy response \((\d{3})\) !== 200 when HTTP Tunneling/.exec(message);
  if (tunnel) return proxyRefusal(Number(tunnel[1]));
  if (!code) return message || 'unknown error';
  let hint = TLS_HINTS[code] ?? NETWORK_HINTS[code];
  // the classic of a daemon in Docker: a receiver (or the simulator) on the host, given as localhost
  if (code === 'ECONNREFUSED' && container && /(?:^|[\s[])(?:127\.\d+\.\d+\.\d+|::1)\]?:\d+/.test(message)) hint += `; ${CONTAINER_LOOPBACK[container]}`;
  hint = hint ? ` (${hint})` : '';
  if (!message || message === code) return code + hint;
  return (message.includes(code) ? message : `${code} ${message}`) + hint;
}

/** A proxy's answer to the tunnel request (CONNECT) other than 200, in words. */
function proxyRefusal(status: number): string {
  const said = `the proxy answered HTTP ${status} to its tunnel request (CONNECT)`;
  if (status === 407) return `${said}: it wants credentials (407 Proxy Authentication Required): give them in the proxy's URL, http://user:password@host:port (or the ones there are wrong)`;
  if (status === 403) return `${said}: it does not allow this host (403 Forbidden): ask whoever runs it to allow it, or list the host in NO_PROXY if it is reachable without the proxy`;
  if (status === 502 || status === 503 || status === 504) return `${said}: it could not reach the host itself (the host down, or the proxy's own network)`;
  return said;
}

/** The network errors whose codes alone send people searching, in words. */
const NETWORK_HINTS: Record<string, string> = {
  ENOTFOUND: "the host name does not resolve: check the URL's host (or this machine's DNS)",
  EAI_AGAIN: "the host name could not be looked up for now: this machine's DNS resolver did not answer",
  ECONNREFUSED: 'nothing accepts connections on that port there: is it running, and is the port right?',
  EHOSTUNREACH: 'no route to that host from this machine (a network down, or a firewall)',
  ENETUNREACH: 'no route to that network from this machine (no network, or an IPv6 address with no IPv6 here)',
  ECONNRESET: 'the connection was cut by the server or by something in between (a firewall, a load balancer, a proxy)',
  UND_ERR_SOCKET: 'the server, or something in between, closed the connection before its answer was complete',
};

/** Where this process runs, as far as a refused 127.0.0.1 is concerned: a container, a Kubernetes pod, or neither (false). */
export type Container = 'docker' | 'pod' | false;

const CONTAINER_LOOPBACK: Record<'docker' | 'pod', string> = {
  docker:
    'this process runs in a container, where 127.0.0.1 is the container itself (unless it runs with --network host): a server on the host machine is host.docker.internal (Docker Desktop; on Linux add --add-host=host.docker.internal:host-gateway)',
  // a pod's containers share its loopback (a sidecar is there), but nothing outside the pod is
  pod: "this process runs in a Kubernetes pod, where 127.0.0.1 is the pod: only its own containers answer there (a sidecar that has not started yet?); a receiver elsewhere is reached by its Service's name",
};

let container: Container | undefined;
/** Whether this process runs in a Kubernetes pod (KUBERNETES_SERVICE_HOST) or another container (Docker's /.dockerenv, Podman's /run/.containerenv). */
export function inContainer(): Container {
  container ??= process.env.KUBERNETES_SERVICE_HOST !== undefined ? 'pod' : existsSync('/.dockerenv') || existsSync('/run/.containerenv') ? 'docker' : false;
  return container;
}

/**
 * What to do about a certificate this machine will not trust. Retrying cannot fix these (unless
 * the far end changes its certificate), and the codes alone send people searching: a receiver with
 * a self-signed or in-house certificate, or a corporate proxy that re-signs TLS, is common.
 */
const UNTRUSTED = "the certificate is not signed by a CA this machine trusts: if it is your own or your proxy's CA, give its certificate to Node with NODE_EXTRA_CA_CERTS=/path/to/ca.pem";
const TLS_HINTS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: UNTRUSTED,
  SELF_SIGNED_CERT_IN_CHAIN: UNTRUSTED,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: UNTRUSTED,
  UNABLE_TO_GET_ISSUER_CERT: UNTRUSTED,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: `${UNTRUSTED}, or the server must send its intermediate certificates`,
  CERT_HAS_EXPIRED: 'the certificate has expired: its owner must renew it (or this machine\'s clock is wrong)',
  CERT_NOT_YET_VALID: 'the certificate is not valid yet: this machine\'s clock may be wrong',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the certificate does not name this host: check the host in the URL',
  // what https:// to a port that serves plain HTTP gets back
  ERR_SSL_WRONG_VERSION_NUMBER: 'the server there does not speak TLS: if it serves plain HTTP, the URL should start with http://',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'the server there does not speak TLS: if it serves plain HTTP, the URL should start with http://',
};

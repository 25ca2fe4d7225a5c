/**
 * Why a server could not listen on `port`, in words with what to do: the bare code (EADDRINUSE)
 * told an operator what failed but not what to change.
 */
export function listenProblem(err: unknown, port: number): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return 'the port is in use (by another program, or another watcher still running): pick another port, or stop that one';
  if (code === 'EADDRNOTAVAIL') return 'no network interface of this machine has that address: use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)';
  if (code === 'EACCES' || code === 'EPERM') return port < 1024 ? `ports below 1024 need privileges: pick one from 1024 up` : 'permission denied';
  return code ?? (err as Error).message;
}

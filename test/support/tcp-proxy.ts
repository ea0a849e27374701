/**
 * @module A TCP proxy in front of the Postgres server (test support only): `cut()` resets every
 * open connection and refuses new ones, as a database that went down does; `restore()` brings it
 * back; `hold()` stops passing the server's answers on (the query still runs and commits).
 */

import type { AddressInfo } from 'node:net';
import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  cut(): void;
  restore(): void;
  hold(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let up = true;
  let held = false;
  const open = new Set<Socket>();
  const upstreams = new Set<Socket>();
  const peers = new Map<Socket, Socket>();
  const server = createServer((client) => {
    if (!up) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    upstreams.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
      upstreams.delete(upstream);
      peers.delete(upstream);
    };
    client.pipe(upstream);
    peers.set(upstream, client);
    if (!held) upstream.pipe(client);
    else upstream.pause();
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      up = false;
      for (const socket of open) socket.resetAndDestroy();
      open.clear();
    },
    restore() {
      up = true;
      held = false;
      for (const u of upstreams) u.pipe(peers.get(u) as Socket);
    },
    hold() {
      held = true;
      for (const u of upstreams) {
        u.unpipe();
        u.pause();
      }
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

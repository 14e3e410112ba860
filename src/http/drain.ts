// Graceful close of the HTTP server: once closing, a keep-alive connection is ended as soon as it has no
// request in progress. Node's server.close() ends only the connections idle at that instant; one busy
// then would otherwise linger, idle, until its keep-alive timeout (65 s), and hold the shutdown.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** How long an ended connection may take to close before it is destroyed. */
const END_GRACE_MS = 1000;

export interface ConnectionDrain {
  /** From now on, end every connection that is or becomes idle. */
  begin(): void;
}

function endSoon(socket: Socket): void {
  socket.end();
  setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
}

export function trackConnections(server: Server): ConnectionDrain {
  const active = new Map<Socket, number>();
  let closing = false;
  server.on('connection', (socket: Socket) => {
    active.set(socket, 0);
    socket.once('close', () => active.delete(socket));
  });
  server.on('request', (req, res) => {
    const socket = req.socket;
    active.set(socket, (active.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const left = (active.get(socket) ?? 1) - 1;
      active.set(socket, left);
      if (closing && left === 0) endSoon(socket);
    });
  });
  return {
    begin() {
      closing = true;
      for (const [socket, n] of active) if (n === 0) endSoon(socket);
    },
  };
}

import net from 'node:net';

/** Writes raw bytes to 127.0.0.1:port; resolves with everything answered until the peer closes or `ms` pass. */
export function raw(port: number, text: string, ms = 1000): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let out = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(out);
    };
    const timer = setTimeout(done, ms);
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('end', done);
    socket.on('error', done);
    socket.write(text);
  });
}

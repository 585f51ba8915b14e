// Helpers the Node test suites (e2e/node, e2e/dashboard) share. Node
// built-ins only, so each suite can import it without the other's packages.
import { createServer } from "node:net";

// freePort asks the kernel for a free loopback port.
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

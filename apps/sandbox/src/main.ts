import { loadConfig, SandboxConfigError } from './config';
import { createSandboxServer } from './server';

/** In-flight requests get this long to finish after SIGTERM before connections are cut. */
const SHUTDOWN_GRACE_MS = 10_000;

function main(): void {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    console.error(error instanceof SandboxConfigError ? error.message : error);
    process.exit(1);
  }

  const server = createSandboxServer({
    apiKey: config.apiKey,
    receiverSecrets: { trigger: config.triggerSecret, callback: config.callbackSecret },
    // One line per delivery: `pnpm start` shows it as `[sandbox] received …`.
    onReceived: (delivery) => console.log(`received ${delivery.summary} (GET /received #${delivery.seq})`),
  });

  server.once('error', (error) => {
    console.error(`sandbox: cannot listen on ${config.host}:${config.port}: ${error.message}`);
    process.exit(1);
  });

  server.listen(config.port, config.host, () => {
    console.log(`sandbox listening on http://${config.host}:${config.port}`);
  });

  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    // close() stops accepting and, since Node 19, also drops idle keep-alive sockets.
    server.close(() => process.exit(0));
    setTimeout(() => {
      server.closeAllConnections();
      process.exit(0);
    }, SHUTDOWN_GRACE_MS).unref();
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main();

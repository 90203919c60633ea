export { createSandboxServer, type SandboxServerOptions } from './server';

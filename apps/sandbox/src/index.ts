export { createSandboxServer, type SandboxServerOptions } from './server';
export { verifyStandardWebhook, type DeliveryKind, type ReceivedDelivery } from './inbox';

/**
 * skein/serve: a board over HTTP (Node only). A JSON API, a live stream of the board's events over
 * Server-Sent Events, signed webhooks and a dashboard, safe by default. See docs/serve.md.
 *
 * @packageDocumentation
 */
export { serve, type ServeHandle } from './server.js';
export type { ServeOptions, Identity } from './options.js';
export type { RunView } from './runs.js';
export {
  signWebhook,
  verifyWebhook,
  WEBHOOK_ID_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  type WebhookOptions,
  type WebhookSubscription,
} from './webhooks.js';

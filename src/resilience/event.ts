/** The event type of the resilience layer's `onX()` events: the one in core, shared with `TaskQueue`. */
export { EventEmitter, type Event, type EventOptions, type Listener, type Subscription } from '../core/event.js';

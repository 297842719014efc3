/**
 * `skein/node`, the runtime layer: the Node.js forms of the async rules every service follows. Watch
 * the event loop, run the program so that it shuts down cleanly, and keep background loops inside a
 * scope. Worker-thread offload (`WorkerPool`) is exported from `skein/worker`, so that this entry
 * point needs no dependency. These pieces import `node:` modules, which is why they are not in the
 * `skein` entry point (that one runs in browsers); `every` is in both.
 *
 * @module
 */
export { every, type EveryOptions, type EveryFailure } from './every.js';
export {
  monitorEventLoop,
  type EventLoopMonitor,
  type EventLoopMonitorOptions,
  type EventLoopLag,
  type EventLoopStats,
} from './monitor-event-loop.js';
export { main, type MainOptions, type MainContext, type MainProcess, type Cleanup } from './main.js';
export { ShutdownError, type ShutdownErrorOptions } from './shutdown-error.js';

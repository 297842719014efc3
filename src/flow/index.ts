export { Semaphore, type Permit, type AcquireOptions, type SemaphoreRunOptions } from './semaphore.js';
export { Mutex, type LockOptions, type RunExclusiveOptions, type RunExclusiveOptions as MutexRunOptions } from './mutex.js';
export { map, type MapOptions } from './map.js';
export { mapIterable, type MapIterableOptions, type MappedIterator } from './map-iterable.js';
export type { Source, Mapper } from './source.js';
export { Channel, ChannelClosedError, type ChannelWaitOptions, type TryReceiveResult } from './channel.js';
export {
  TaskQueue,
  QueueFullError,
  type TaskQueueOptions,
  type AddOptions,
  type AddAllOptions,
  type QueueWaitOptions,
  type WhenFull,
  type TaskInfo,
  type TaskQueueEvents,
  type TaskQueueEventName,
  type TaskQueueListenerOptions,
} from './task-queue.js';
export { RateLimiter, type RateLimiterOptions, type RateAcquireOptions, type RateRunOptions } from './rate-limiter.js';

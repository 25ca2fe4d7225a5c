export { PresenceWatcher, WatcherOptionsError, EventsOverflowError, DEFAULT_INTERVAL_MS, DOMAIN_TARGET } from './watcher.js';
export type { PresenceWatcherOptions, RoomsOptions, AllRoomsOptions } from './watcher.js';
export type {
  Participant,
  RoomSnapshot,
  PresenceEvent,
  PresenceEventType,
  JoinEvent,
  LeaveEvent,
  UpdateEvent,
  ParticipantChanges,
  TrackedField,
  PollInfo,
  PresenceWatcherEvents,
} from './events.js';
export { TRACKED_FIELDS } from './events.js';
export { diffRoom, diffDomain, applyEvents, eventId } from './diff.js';
export type { RoomState, DomainState, DiffOptions, DiffResult, DomainDiffResult } from './diff.js';
export { DailyClient, DEFAULT_API_URL, encodeRoomSegment } from './daily/client.js';
export type { DailyClientOptions, PresenceClient, RoomPresenceOptions } from './daily/client.js';
export type { RoomPresence, DomainPresence, ParticipantEntry, RoomEntries, DomainEntries, DomainLists, RoomText, RoomTextSizes } from './daily/parse.js';
export { parseRoomPresence, parseDomainPresence, parseRoomEntries, parseDomainEntries, parseDomainText, parseRoomText, toParticipant } from './daily/parse.js';
export { RoomTracker, DomainTracker } from './tracker.js';
export type { ApplyOptions, RoomTextApplied } from './tracker.js';
export { FileStateStore } from './state/file-store.js';
export { StateError } from './state/store.js';
export type { StateStore, SavedState } from './state/store.js';
export { DailyApiError } from './daily/errors.js';
export type { DailyErrorCode } from './daily/errors.js';
export { createLimiter, RateLimiter } from './poll/limiter.js';
export type { LimiterOptions, RequestLimiter } from './poll/limiter.js';
export { ListenerError } from './util/safe-emitter.js';
export { createLogger, SecretRegistry } from './log.js';
export type { Logger } from './log.js';
export { DailySimulator, SIMULATOR_API_KEY } from './simulator/simulator.js';
export type { SimulatorOptions, SimulatorFault, FaultRule, SimulatorRequest, SimulatedParticipant } from './simulator/simulator.js';
export { signWebhook, verify as verifyWebhook, secretKey as webhookSecretKey, secretKeys as webhookSecretKeys, type WebhookHeaders } from './sinks/signing.js';
export type { VerifyOptions } from './sinks/signing.js';
export { DeliveryQueue } from './sinks/queue.js';
export type { DeliveryQueueOptions, DeliveryOutcome } from './sinks/queue.js';
export { DeliveryError } from './sinks/sink.js';
export type { Sink, DeliveryFailure } from './sinks/sink.js';
export { StdoutSink, type StdoutFormat } from './sinks/stdout.js';
export { WebhookSink } from './sinks/webhook.js';
export type { WebhookSinkOptions } from './sinks/webhook.js';
export { SlackSink, slackMessage, describeEvent } from './sinks/slack.js';
export type { SlackSinkOptions, SlackMessageOptions } from './sinks/slack.js';
export { FileDeadLetter, LogDeadLetter } from './sinks/dead-letter.js';
export type { DeadLetter } from './sinks/dead-letter.js';
export { Dispatcher } from './dispatcher.js';
export type { SinkFilter } from './dispatcher.js';

/**
 * Counts the network round trips one ioredis connection makes (standalone Redis), without MONITOR and
 * without mocking anything: it observes `sendCommand`, through which every command goes. A command
 * sent on its own is one round trip; the commands of one pipeline or MULTI/EXEC (ioredis hands them
 * all the same pipeline stream object, then writes them in one go) are one round trip together.
 * Server-side counters (INFO commandstats) cannot tell these apart: they count commands, and a
 * transaction's commands count one by one.
 */
import type { Redis } from 'ioredis';

export interface RoundTripCounter {
  /** Round trips so far, and what they were (command names; a pipeline's joined with '+'). */
  readonly count: number;
  readonly trips: string[];
  /** Stops counting (restores the connection) and returns the count. */
  stop(): number;
}

type SendCommand = (command: { name: string }, stream?: unknown, node?: unknown) => unknown;

export function countRoundTrips(redis: Redis): RoundTripCounter {
  const target = redis as unknown as { sendCommand: SendCommand };
  const original = target.sendCommand;
  const trips: string[] = [];
  const pipelines = new Map<object, number>();
  target.sendCommand = function (command, stream, node) {
    const pipeline = stream && typeof stream === 'object' && (stream as { isPipeline?: boolean }).isPipeline ? stream : null;
    if (pipeline) {
      const at = pipelines.get(pipeline);
      if (at === undefined) {
        pipelines.set(pipeline, trips.length);
        trips.push(command.name);
      } else {
        trips[at] += `+${command.name}`;
      }
    } else {
      trips.push(command.name);
    }
    return original.call(this, command, stream, node);
  };
  return {
    get count() {
      return trips.length;
    },
    trips,
    stop() {
      target.sendCommand = original;
      return trips.length;
    },
  };
}

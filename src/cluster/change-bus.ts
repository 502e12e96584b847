import type { ChangeEvent } from './change-event.js';

/** What a bus tells its replica: another replica's event, or that the bus went away or came back. */
export interface ChangeBusListener {
  event(event: ChangeEvent): void;
  /** `down`: other replicas' events may be missed from now on; `up`: they arrive again (some may have been missed). */
  state(state: 'up' | 'down', detail: string): void;
}

/**
 * Carries change events between control-plane replicas. A bus never hands a replica its own
 * events back: the replica delivers those itself, in-process, before publishing them.
 */
export interface ChangeBus {
  /** Sends `event` to the other replicas; best effort (dropped while the bus is away). */
  publish(event: ChangeEvent): void;
  /** Starts delivering the other replicas' events to `listener` (one listener per bus). */
  listen(listener: ChangeBusListener): void;
  /** Whether other replicas' events arrive now. */
  readonly up: boolean;
  close(): void;
}

/** Replicas in one process (tests): each bus() is one replica's, and hears the others'. */
export class InProcessChangeHub {
  private readonly members = new Set<{ listener?: ChangeBusListener }>();

  bus(): ChangeBus {
    const member: { listener?: ChangeBusListener } = {};
    this.members.add(member);
    return {
      up: true,
      publish: (event) => {
        // Delivered on a later turn, as a network bus would: never inside the publisher's call.
        for (const other of this.members) if (other !== member) queueMicrotask(() => other.listener?.event(structuredClone(event)));
      },
      listen: (listener) => {
        member.listener = listener;
      },
      close: () => {
        this.members.delete(member);
      },
    };
  }
}

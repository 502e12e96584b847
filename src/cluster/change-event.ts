import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { TOKEN_ROLES } from '../contracts/roles.js';

const Role = Type.Union(TOKEN_ROLES.map((role) => Type.Literal(role)));

/**
 * What changed, as the domain code that changed it announces it (after its transaction
 * committed). Each replica delivers its own events in-process and, with Redis, the other
 * replicas' too: caches drop what an event names, and desired-state long polls wake.
 */
export const ChangeEvent = Type.Union([
  /** An alias was set or moved (`version`), or removed (null). */
  Type.Object({
    kind: Type.Literal('alias-moved'),
    model: Type.String(),
    alias: Type.String(),
    version: Type.Union([Type.Integer(), Type.Null()]),
  }),
  Type.Object({ kind: Type.Literal('version-registered'), model: Type.String(), version: Type.Integer() }),
  /** A version's tags changed (nothing a node serves: the dashboard's model list). */
  Type.Object({ kind: Type.Literal('version-changed'), model: Type.String(), version: Type.Integer() }),
  Type.Object({
    kind: Type.Literal('deployment-changed'),
    deployment: Type.String(),
    change: Type.Union([Type.Literal('created'), Type.Literal('rollout'), Type.Literal('deleted')]),
  }),
  Type.Object({
    kind: Type.Literal('node-changed'),
    nodeId: Type.String(),
    /** `credential`: a rotation was asked for (only its credentials' cached lookups are stale). */
    change: Type.Union([
      Type.Literal('enrolled'),
      Type.Literal('labels'),
      Type.Literal('cordon'),
      Type.Literal('approved'),
      Type.Literal('inference-url'),
      Type.Literal('credential'),
    ]),
  }),
  /** The node is gone and its credentials are revoked. */
  Type.Object({ kind: Type.Literal('node-deleted'), nodeId: Type.String() }),
  Type.Object({ kind: Type.Literal('token-created'), tokenId: Type.String(), role: Role }),
  Type.Object({ kind: Type.Literal('token-revoked'), tokenId: Type.String(), role: Type.Union([Role, Type.Null()]) }),
  /** A token's expiry moved earlier (a node's replaced credential, after its overlap). */
  Type.Object({ kind: Type.Literal('token-expiry-moved'), tokenId: Type.String(), role: Type.Union([Role, Type.Null()]) }),
  /** Something else that may shape desired state (sessions' on-demand placements, drift policies): ChangeSignal.notify(). */
  Type.Object({ kind: Type.Literal('changed') }),
  /** Events from other replicas may have been missed (Redis was away): every cache starts afresh. */
  Type.Object({ kind: Type.Literal('resync') }),
]);
export type ChangeEvent = Static<typeof ChangeEvent>;
export type ChangeKind = ChangeEvent['kind'];

const checkEvent = TypeCompiler.Compile(ChangeEvent);

/** A change event read from elsewhere (Redis), or undefined when `value` is not one. */
export function asChangeEvent(value: unknown): ChangeEvent | undefined {
  return checkEvent.Check(value) ? value : undefined;
}

/**
 * Whether `event` may change what some node should serve (or what the dashboard lists): those bump
 * the generation, let the rollout controller move first and then wake long polls. Node
 * credentials come and go with every rotation: their events only clear cached lookups.
 */
export function shapesDesiredState(event: ChangeEvent): boolean {
  switch (event.kind) {
    case 'token-created':
    case 'token-revoked':
    case 'token-expiry-moved':
      // Inference tokens are handed to agents with their desired state; the others are not.
      return event.role === 'inference' || event.role === null;
    case 'node-changed':
      return event.change !== 'credential';
    default:
      return true;
  }
}

/** Where domain code announces its changes; ChangeSignal is the control plane's. */
export interface ChangePublisher {
  publish(event: ChangeEvent): void;
  /**
   * False while changes made through other replicas may go unseen (Redis away): caches then keep
   * an entry at most a second. True without Redis (one replica sees all its changes).
   */
  readonly complete: boolean;
}

/** For domain objects used without a control plane (tests, the CLI): announces nothing. */
export const NO_CHANGES: ChangePublisher = { publish: () => undefined, complete: true };

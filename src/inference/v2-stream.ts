import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import websocket from '@fastify/websocket';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { FoglineError } from '../errors/fogline-error.js';
import type { WebSocket } from 'ws';
import { V2InferRequest } from '../contracts/open-inference.js';
import type { Access } from '../http/access.js';
import { toErrorBody } from '../http/error-handler.js';
import { isMlInputError } from '../ml/errors.js';
import { inferenceCall, toV2Response } from './inference-call.js';
import type { V2ModelSource } from './v2-model-source.js';

/** Requests one socket may have running before the server stops reading from it (backpressure). */
export const STREAM_MAX_IN_FLIGHT = 16;
/** Largest message a client may send: about what MAX_REQUEST_VALUES is as JSON. */
export const STREAM_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

const NameParams = Type.Object({ name: Type.String({ maxLength: 200 }) });
const VersionParams = Type.Object({ name: Type.String({ maxLength: 200 }), version: Type.String({ maxLength: 20 }) });
const checkRequest = TypeCompiler.Compile(V2InferRequest);
const SessionQuery = Type.Object({ session: Type.Optional(Type.String({ maxLength: 4096 })) });

/**
 * Sessions on a stream (src/sessions): `?session=<token>` is checked before the upgrade when given,
 * and required when `required`. The holder reports when the session's socket opens and closes;
 * a socket without a message for the session's idle time is closed (code 4000).
 */
export interface StreamSessionGate {
  required: boolean;
  /** The session's id and idle timeout, or throws (FOGLINE_ERR_SESSION_REFUSED). */
  admit(token: string, name: string, version: string | undefined): { id: string; idleMs: number };
  opened(id: string): void;
  closed(id: string, reason: string): void;
}

/** WebSocket close code for a session that idled out. */
export const SESSION_IDLE_CLOSE_CODE = 4000;

/** What the server sends back for one message that failed; `id` is the request's when it had one. */
export interface StreamError {
  id?: string;
  error: string;
  /** The HTTP status the same request would have had on /infer. */
  status: number;
}

/**
 * Streaming inference over a WebSocket: `GET /v2/models/{name}/stream` (or with
 * `/versions/{v}`) upgrades; each text message is a V2 infer request, and each gets its V2
 * response, or `{"id", "error", "status"}`, on the same socket in the order the requests came. A
 * bad message gets an error and the socket stays open. At most STREAM_MAX_IN_FLIGHT requests of
 * one socket run at once: past that the server stops reading it until answers go out, so a fast
 * sender is slowed by TCP instead of filling the server's memory. Access is the same as /infer's.
 */
export function v2StreamRoutes(source: V2ModelSource, access: Access, sessions?: StreamSessionGate): FastifyPluginAsyncTypebox {
  return async (app) => {
    await app.register(websocket, { options: { maxPayload: STREAM_MAX_MESSAGE_BYTES } });
    const schema = {
      summary: `Streaming inference over a WebSocket (V2 messages)${sessions?.required ? '; needs ?session=<token> from POST /api/v1/sessions' : ''}`,
      tags: ['inference'],
      querystring: SessionQuery,
    };
    const admitted = new WeakMap<object, { id: string; idleMs: number }>();
    const preValidation = async (request: FastifyRequest) => {
      if (!sessions) return;
      const { session } = request.query as { session?: string };
      const { name, version } = request.params as { name: string; version?: string };
      if (session === undefined) {
        if (sessions.required)
          throw new FoglineError(
            'FOGLINE_ERR_SESSION_REFUSED',
            'This stream needs ?session=<token>: open a session with POST /api/v1/sessions',
          );
        return;
      }
      admitted.set(request, sessions.admit(session, name, version));
    };
    app.get(
      '/v2/models/:name/stream',
      { websocket: true, config: { access, audit: false }, schema: { ...schema, params: NameParams }, preValidation },
      (socket, request) => serveStream(socket, source, request.params.name, undefined, request.log, sessionOf(request)),
    );
    app.get(
      '/v2/models/:name/versions/:version/stream',
      { websocket: true, config: { access, audit: false }, schema: { ...schema, params: VersionParams }, preValidation },
      (socket, request) => serveStream(socket, source, request.params.name, request.params.version, request.log, sessionOf(request)),
    );
    function sessionOf(request: FastifyRequest): ActiveSession | undefined {
      const session = admitted.get(request);
      return session && sessions ? { ...session, gate: sessions } : undefined;
    }
  };
}

interface ActiveSession {
  id: string;
  idleMs: number;
  gate: StreamSessionGate;
}

function serveStream(
  socket: WebSocket,
  source: V2ModelSource,
  name: string,
  version: string | undefined,
  log: FastifyBaseLogger,
  session?: ActiveSession,
): void {
  let idleTimer: NodeJS.Timeout | undefined;
  let closeReason = 'disconnected';
  const touch = () => {
    if (!session) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      closeReason = 'idle timeout';
      socket.close(SESSION_IDLE_CLOSE_CODE, 'session idle timeout');
    }, session.idleMs);
    idleTimer.unref();
  };
  if (session) {
    session.gate.opened(session.id);
    touch();
    socket.on('close', () => {
      clearTimeout(idleTimer);
      session.gate.closed(session.id, closeReason);
    });
  }
  let running = 0;
  let paused = false;
  // Messages read but not started: the socket is paused meanwhile, so only what one read brought.
  const waiting: { text: string | undefined }[] = [];
  // Answers go out in request order: each waits for the one before it.
  let previous: Promise<void> = Promise.resolve();

  const start = (text: string | undefined) => {
    running += 1;
    const answer = answerMessage(source, name, version, text, log);
    previous = previous.then(async () => {
      const message = await answer;
      if (socket.readyState === socket.OPEN) socket.send(message);
      running -= 1;
      const queued = waiting.shift();
      if (queued) start(queued.text);
      if (paused && waiting.length === 0) {
        paused = false;
        socket.resume();
      }
    });
  };

  socket.on('message', (data: Buffer, isBinary: boolean) => {
    touch();
    const text = isBinary ? undefined : data.toString();
    if (running < STREAM_MAX_IN_FLIGHT) {
      start(text);
      return;
    }
    waiting.push({ text });
    if (!paused) {
      paused = true;
      socket.pause();
    }
  });
  socket.on('error', (error: Error) => log.warn({ err: error }, 'inference stream socket error'));
}

/** The JSON text to send back for one message: a V2 response or a StreamError. Never throws. */
async function answerMessage(
  source: V2ModelSource,
  name: string,
  version: string | undefined,
  text: string | undefined,
  log: FastifyBaseLogger,
): Promise<string> {
  if (text === undefined) return JSON.stringify({ error: 'Send V2 infer requests as JSON text messages, not binary', status: 400 });
  let request: unknown;
  try {
    request = JSON.parse(text);
  } catch (error) {
    return JSON.stringify({ error: `The message is not valid JSON: ${(error as Error).message}`, status: 400 } satisfies StreamError);
  }
  const id = typeof (request as { id?: unknown })?.id === 'string' ? (request as { id: string }).id : undefined;
  const withId = (error: string, status: number): string => JSON.stringify({ ...(id !== undefined ? { id } : {}), error, status });
  if (!checkRequest.Check(request)) {
    const first = checkRequest.Errors(request).First();
    return withId(`The message is not a V2 infer request: ${first ? `${first.path || '/'} ${first.message}` : 'invalid'}`, 400);
  }
  try {
    return JSON.stringify(toV2Response(await source.infer(inferenceCall(name, version, request)), request.id));
  } catch (error) {
    if (isMlInputError(error)) return withId(error.message, 400);
    const { status, body } = toErrorBody(error as Error);
    if (status >= 500 && status !== 503) log.error({ err: error }, 'streamed inference request failed');
    return withId(body.message, status);
  }
}
